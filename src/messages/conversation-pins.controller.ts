import { Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { TakesNoBody } from '../common/takes-no-body.js';
import { PinsPage } from './message.view.js';
import { PinsService } from './pins.service.js';

const ConversationId = new ParseIdPipe('Conversation');
const MessageId = new ParseIdPipe('Message');

/** A conversation's pinned messages. */
@ApiTags('messages')
@ApiAuthenticated()
@ApiParam({ name: 'id', description: 'Conversation id' })
@Controller('api/v1/conversations/:id/pins')
export class ConversationPinsController {
  constructor(private readonly pins: PinsService) {}

  @Get()
  @ApiOperation({ summary: 'Pinned messages', description: 'Newest pin first; at most 50.' })
  @ApiOkResponse({ type: PinsPage })
  @ApiErrors([404, 'No such conversation, or the caller is not a member'])
  list(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string) {
    return this.pins.list(caller.id, id);
  }

  @Put(':messageId')
  @TakesNoBody()
  @HttpCode(204)
  @ApiOperation({ summary: 'Pin a message (any member)', description: 'Idempotent. The members are notified with message.updated.' })
  @ApiParam({ name: 'messageId', description: 'A message of this conversation' })
  @ApiNoContentResponse({ description: 'Pinned (or already pinned)' })
  @ApiErrors(
    400,
    [404, 'No such conversation (or not a member), or the message is not one of its messages'],
    [409, 'The message has been deleted, or the conversation already holds 50 pinned messages'],
  )
  pin(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Param('messageId', MessageId) messageId: string) {
    return this.pins.pin(caller.id, id, messageId);
  }

  @Delete(':messageId')
  @TakesNoBody()
  @HttpCode(204)
  @ApiOperation({ summary: 'Unpin a message (any member)', description: 'Idempotent. The members are notified with message.updated.' })
  @ApiParam({ name: 'messageId', description: 'A message of this conversation' })
  @ApiNoContentResponse({ description: 'Unpinned (or was not pinned)' })
  @ApiErrors(400, [404, 'No such conversation (or not a member), or the message is not one of its messages'])
  unpin(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Param('messageId', MessageId) messageId: string) {
    return this.pins.unpin(caller.id, id, messageId);
  }
}
