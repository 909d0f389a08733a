import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { RateLimited } from '../rate-limit/rate-limit.decorator.js';
import { EditMessageDto } from './dto/edit-message.dto.js';
import { SendMessageDto } from './dto/send-message.dto.js';
import { MessagesService } from './messages.service.js';

const MessageId = new ParseIdPipe('Message');

@Controller('api/v1/messages')
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  /** 201 with the stored message; 200 with the original when `clientMessageId` repeats. */
  @Post()
  @RateLimited('send')
  async send(
    @CurrentUser() caller: AuthUser,
    @Body() dto: SendMessageDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { message, created } = await this.messages.send(caller.id, dto);
    reply.status(created ? 201 : 200);
    return message;
  }

  @Get(':id')
  get(@CurrentUser() caller: AuthUser, @Param('id', MessageId) id: string) {
    return this.messages.get(caller.id, id);
  }

  @Patch(':id')
  edit(@CurrentUser() caller: AuthUser, @Param('id', MessageId) id: string, @Body() dto: EditMessageDto) {
    return this.messages.edit(caller.id, id, dto.body);
  }

  @Delete(':id')
  @HttpCode(204)
  delete(@CurrentUser() caller: AuthUser, @Param('id', MessageId) id: string) {
    return this.messages.delete(caller, id);
  }
}
