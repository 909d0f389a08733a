import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { MessageView, ThreadPage } from './message.view.js';
import type { AuthUser, Caller } from '../common/caller/caller.js';
import { CallerCheckedByQuery } from '../common/caller/caller-checked-by-query.decorator.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { RateLimited } from '../rate-limit/rate-limit.decorator.js';
import { EditMessageDto } from './dto/edit-message.dto.js';
import { SendMessageDto } from './dto/send-message.dto.js';
import { ThreadQuery } from './dto/thread.query.js';
import { MessagesService } from './messages.service.js';
import { SendTrace } from './send-trace.js';
import { TakesNoBody } from '../common/takes-no-body.js';

const MessageId = new ParseIdPipe('Message');

@ApiTags('messages')
@ApiAuthenticated()
@Controller('api/v1/messages')
export class MessagesController {
  constructor(
    private readonly messages: MessagesService,
    private readonly trace: SendTrace,
  ) {}

  /** 201 with the stored message; 200 with the original when `clientMessageId` repeats. */
  @Post()
  @CallerCheckedByQuery()
  @RateLimited('send')
  @ApiOperation({
    summary: 'Send a message into a conversation, or directly to a user',
    description: 'With `attachmentIds`, the uploads are attached in the same transaction (400 if any is not yours to attach); the text may then be empty.',
  })
  @ApiCreatedResponse({ type: MessageView, description: 'Stored; the members are notified with message.created' })
  @ApiOkResponse({ type: MessageView, description: 'The same clientMessageId again: the original message, nothing stored twice' })
  @ApiErrors(
    [400, 'Invalid body, or replyToId is not a message of the same conversation'],
    [404, 'No such conversation (or not a member), or no such active recipient'],
    429,
  )
  async send(
    @CurrentUser() caller: Caller,
    @Body() dto: SendMessageDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { message, created } = await this.messages.send(caller, dto, this.trace.of(reply.request));
    reply.status(created ? 201 : 200);
    return message;
  }

  @Get(':id')
  @CallerCheckedByQuery()
  @ApiOperation({ summary: 'One message' })
  @ApiParam({ name: 'id', description: 'Message id' })
  @ApiOkResponse({ type: MessageView })
  @ApiErrors([404, 'No such message, or the caller is not a member of its conversation'])
  get(@CurrentUser() caller: Caller, @Param('id', MessageId) id: string) {
    return this.messages.get(caller, id);
  }

  @Get(':id/thread')
  @ApiOperation({
    summary: "A thread's replies",
    description: 'The replies whose threadId is this message, oldest first; `after=SEQ` reads on from a reply.',
  })
  @ApiParam({ name: 'id', description: 'The root message id' })
  @ApiOkResponse({ type: ThreadPage })
  @ApiErrors(400, [404, 'No such message, or the caller is not a member of its conversation'])
  thread(@CurrentUser() caller: AuthUser, @Param('id', MessageId) id: string, @Query() query: ThreadQuery) {
    return this.messages.thread(caller, id, query.after, query.limit);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Edit a message (sender only): its text, or its attachments (attachmentIds) and text' })
  @ApiParam({ name: 'id', description: 'Message id' })
  @ApiOkResponse({ type: MessageView })
  @ApiErrors(400, [403, 'Only the sender edits'], [404, 'No such message, or not visible'], [409, 'The message has been deleted'])
  edit(@CurrentUser() caller: AuthUser, @Param('id', MessageId) id: string, @Body() dto: EditMessageDto) {
    return this.messages.edit(caller, id, dto);
  }

  @Delete(':id')
  @TakesNoBody()
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a message (sender or admin); it stays in history as a tombstone' })
  @ApiParam({ name: 'id', description: 'Message id' })
  @ApiNoContentResponse({ description: 'Deleted; the members are notified with message.deleted' })
  @ApiErrors([403, 'Only the sender or an admin deletes'], [404, 'No such message, or not visible'])
  delete(@CurrentUser() caller: AuthUser, @Param('id', MessageId) id: string) {
    return this.messages.delete(caller, id);
  }
}
