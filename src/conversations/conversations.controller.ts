import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { ConversationPage, ConversationView, ReceiptsView } from './conversation.view.js';
import type { FastifyReply } from 'fastify';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { AddMembersDto } from './dto/add-members.dto.js';
import { CreateConversationDto } from './dto/create-conversation.dto.js';
import { CursorPageQuery } from '../common/page.query.js';
import { MarkReadDto } from './dto/mark-read.dto.js';
import { ConversationSettingsDto } from './dto/conversation-settings.dto.js';
import { RenameConversationDto } from './dto/rename-conversation.dto.js';
import { ConversationsService } from './conversations.service.js';
import { TakesNoBody } from '../common/takes-no-body.js';

const ConversationId = new ParseIdPipe('Conversation');

@ApiTags('conversations')
@ApiAuthenticated()
@Controller('api/v1/conversations')
export class ConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  /** 201 for a new conversation; 200 with the existing direct conversation of a pair. */
  @Post()
  @ApiOperation({ summary: 'Open a direct conversation, or create a group (the caller is its owner)' })
  @ApiCreatedResponse({ type: ConversationView, description: 'Created' })
  @ApiOkResponse({ type: ConversationView, description: 'The existing direct conversation of the pair' })
  @ApiErrors(400, [404, 'No such active user (direct)'])
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
  @ApiOperation({ summary: "The caller's conversations, most recently active first" })
  @ApiOkResponse({ type: ConversationPage })
  @ApiErrors(400)
  list(@CurrentUser() caller: AuthUser, @Query() query: CursorPageQuery) {
    return this.conversations.list(caller.id, query.limit, query.cursor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One conversation' })
  @ApiOkResponse({ type: ConversationView })
  @ApiErrors([404, 'No such conversation, or the caller is not a member'])
  get(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string) {
    return this.conversations.get(caller.id, id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Rename a group (owner only)',
    description: 'Recorded in the history as a system message (`title.changed`); the members get `conversation.updated` and `message.created`. The same title again changes nothing.',
  })
  @ApiOkResponse({ type: ConversationView })
  @ApiErrors(
    [400, 'Invalid title, or a direct conversation (which has none)'],
    [403, 'Only the owner renames the group'],
    [404, 'No such conversation, or the caller is not a member'],
  )
  rename(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Body() dto: RenameConversationDto) {
    return this.conversations.rename(caller.id, id, dto.title);
  }

  @Patch(':id/settings')
  @ApiOperation({ summary: 'The caller’s own settings of a conversation: `muted` stops its Web Push notifications' })
  @ApiOkResponse({ type: ConversationView })
  @ApiErrors(400, [404, 'No such conversation, or the caller is not a member'])
  updateSettings(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Body() dto: ConversationSettingsDto) {
    return this.conversations.updateSettings(caller.id, id, dto.muted);
  }

  @Post(':id/members')
  @HttpCode(200)
  @ApiOperation({ summary: 'Add members to a group (owner only)' })
  @ApiOkResponse({ type: ConversationView })
  @ApiErrors(400, [403, 'Only the owner adds members'], [404, 'No such conversation, or the caller is not a member'])
  addMembers(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Body() dto: AddMembersDto) {
    return this.conversations.addMembers(caller.id, id, dto.userIds);
  }

  @Delete(':id/members/:userId')
  @TakesNoBody()
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a member (the owner removes anyone; a member removes itself)' })
  @ApiParam({ name: 'userId', description: 'The member to remove' })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors(400, [403, 'Only the owner removes others'], [404, 'No such conversation or member'])
  removeMember(
    @CurrentUser() caller: AuthUser,
    @Param('id', ConversationId) id: string,
    @Param('userId', new ParseIdPipe('Member')) userId: string,
  ) {
    return this.conversations.removeMember(caller.id, id, userId);
  }

  @Get(':id/receipts')
  @ApiOperation({
    summary: "Every member's read marker",
    description: 'A member who does not share read receipts shows `lastReadSeq` and `readAt` null to the others (not to itself, nor to an admin).',
  })
  @ApiOkResponse({ type: ReceiptsView })
  @ApiErrors([404, 'No such conversation, or the caller is not a member'])
  receipts(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string) {
    return this.conversations.receipts(caller, id);
  }

  @Post(':id/read')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Mark the conversation read up to a seq',
    description: "The caller's sockets get `conversation.read`; so do the other members when the marker moved, if the caller shares read receipts.",
  })
  @ApiNoContentResponse({ description: 'The read marker moved (never backwards)' })
  @ApiErrors(400, [404, 'No such conversation, or the caller is not a member'])
  markRead(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Body() dto: MarkReadDto) {
    return this.conversations.markRead(caller.id, id, dto.seq);
  }
}
