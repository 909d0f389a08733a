import { Controller, Get, Param, Query } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { ChangesQuery } from './dto/changes.query.js';
import { HistoryQuery } from './dto/history.query.js';
import { MessagesService } from './messages.service.js';

const ConversationId = new ParseIdPipe('Conversation');

/** A conversation's history and its changes feed. */
@Controller('api/v1/conversations/:id')
export class ConversationMessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Get('messages')
  history(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Query() query: HistoryQuery) {
    return this.messages.history(caller.id, id, { before: query.before, after: query.after }, query.limit);
  }

  /** Everything that changed after `since` (new, edited, deleted), for catching up. */
  @Get('changes')
  changes(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Query() query: ChangesQuery) {
    return this.messages.changes(caller.id, id, query.since, query.limit);
  }
}
