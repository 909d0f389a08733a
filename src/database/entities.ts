import { ConversationMember } from '../conversations/conversation-member.entity.js';
import { Conversation } from '../conversations/conversation.entity.js';
import { Message } from '../messages/message.entity.js';
import { User } from '../users/user.entity.js';

export const entities = [User, Conversation, ConversationMember, Message];
