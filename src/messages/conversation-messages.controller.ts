import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { ChangesPage, HistoryPage } from './message.view.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { ChangesQuery } from './dto/changes.query.js';
import { HistoryQuery } from './dto/history.query.js';
import { MessagesService } from './messages.service.js';

const ConversationId = new ParseIdPipe('Conversation');

/** A conversation's history and its changes feed. */
@ApiTags('messages')
@ApiAuthenticated()
@ApiParam({ name: 'id', description: 'Conversation id' })
@ApiErrors(400, [404, 'No such conversation, or the caller is not a member'])
@Controller('api/v1/conversations/:id')
export class ConversationMessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Get('messages')
  @ApiOperation({
    summary: 'History',
    description: 'Default: the newest `limit` messages, newest first. `before=SEQ`: older, newest first. `after=SEQ`: newer, oldest first.',
  })
  @ApiOkResponse({ type: HistoryPage })
  history(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Query() query: HistoryQuery) {
    return this.messages.history(caller.id, id, { before: query.before, after: query.after }, query.limit);
  }

  /** Everything that changed after `since` (new, edited, deleted), for catching up. */
  @Get('changes')
  @ApiOperation({
    summary: 'The changes feed',
    description: 'Messages created, edited or deleted after change `since`, in the order they changed: how a client catches up on edits and deletes.',
  })
  @ApiOkResponse({ type: ChangesPage })
  changes(@CurrentUser() caller: AuthUser, @Param('id', ConversationId) id: string, @Query() query: ChangesQuery) {
    return this.messages.changes(caller.id, id, query.since, query.limit);
  }
}
