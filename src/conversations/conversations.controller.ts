import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { AddMembersDto } from './dto/add-members.dto.js';
import { CreateConversationDto } from './dto/create-conversation.dto.js';
import { CursorPageQuery } from '../common/page.query.js';
import { MarkReadDto } from './dto/mark-read.dto.js';
import { ConversationsService } from './conversations.service.js';

const ConversationId = new ParseIdPipe('Conversation');

@Controller('api/v1/conversations')
export class ConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  /** 201 for a new conversation; 200 with the existing direct conversation of a pair. */
  @Post()
  async create(
    @CurrentUser() caller: AuthUser,
    @Body() dto: CreateConversationDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { conversation, created } = await this.conversations.create(caller.id, dto);
    reply.status(created ? 201 : 200);
    return conversation;
  }

  @Get()
  list(@CurrentUser() caller: AuthUser, @Query() query: CursorPageQuery) {
    return this.conversations.list(caller.id, query.limit, query.cursor);
  }

  @Get(':id')
  get(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string) {
    return this.conversations.get(caller.id, id);
  }

  @Post(':id/members')
  @HttpCode(200)
  addMembers(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Body() dto: AddMembersDto) {
    return this.conversations.addMembers(caller.id, id, dto.userIds);
  }

  @Delete(':id/members/:userId')
  @HttpCode(204)
  removeMember(
    @CurrentUser() caller: AuthUser,
    @Param('id', ConversationId) id: string,
    @Param('userId', new ParseIdPipe('Member')) userId: string,
  ) {
    return this.conversations.removeMember(caller.id, id, userId);
  }

  @Post(':id/read')
  @HttpCode(204)
  markRead(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Body() dto: MarkReadDto) {
    return this.conversations.markRead(caller.id, id, dto.seq);
  }
}
