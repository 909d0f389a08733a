import { Controller, Delete, Get, HttpCode, Param, Put, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser, Caller } from '../common/caller/caller.js';
import { CallerCheckedByQuery } from '../common/caller/caller-checked-by-query.decorator.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { CursorPageQuery } from '../common/page.query.js';
import { TakesNoBody } from '../common/takes-no-body.js';
import { UserPage } from '../users/user.view.js';
import { ParseEmojiPipe } from './emoji.js';
import { ReactionsService } from './reactions.service.js';

const MessageId = new ParseIdPipe('Message');
const Emoji = new ParseEmojiPipe();

@ApiTags('messages')
@ApiAuthenticated()
@ApiParam({ name: 'id', description: 'Message id' })
@ApiParam({
  name: 'emoji',
  description: 'One emoji (one grapheme cluster that is an RGI emoji), URL-encoded; with or without the presentation selector U+FE0F',
  example: '%F0%9F%91%8D',
})
@Controller('api/v1/messages/:id/reactions/:emoji')
export class ReactionsController {
  constructor(private readonly reactions: ReactionsService) {}

  @Put()
  @CallerCheckedByQuery()
  @TakesNoBody()
  @HttpCode(204)
  @ApiOperation({ summary: 'React to a message', description: 'Idempotent. The members are notified with message.updated.' })
  @ApiNoContentResponse({ description: 'The caller reacts with this emoji (it may already have)' })
  @ApiErrors(
    [400, 'Not one emoji, a body was sent, or the message accepts no reactions'],
    [404, 'No such message, or the caller is not a member of its conversation'],
    [409, 'The message has been deleted, or already carries 20 different emoji'],
    503,
  )
  react(@CurrentUser() caller: Caller, @Param('id', MessageId) id: string, @Param('emoji', Emoji) emoji: string) {
    return this.reactions.react(caller, id, emoji);
  }

  @Delete()
  @CallerCheckedByQuery()
  @TakesNoBody()
  @HttpCode(204)
  @ApiOperation({ summary: 'Take back a reaction', description: 'Idempotent. The members are notified with message.updated.' })
  @ApiNoContentResponse({ description: 'The caller does not react with this emoji (it may never have)' })
  @ApiErrors(
    [400, 'Not one emoji, a body was sent, or the message accepts no reactions'],
    [404, 'No such message, or the caller is not a member of its conversation'],
    503,
  )
  unreact(@CurrentUser() caller: Caller, @Param('id', MessageId) id: string, @Param('emoji', Emoji) emoji: string) {
    return this.reactions.unreact(caller, id, emoji);
  }

  @Get()
  @ApiOperation({ summary: 'Who reacted with an emoji', description: 'In the order they reacted.' })
  @ApiOkResponse({ type: UserPage })
  @ApiErrors(400, [404, 'No such message, or the caller is not a member of its conversation'])
  reactors(
    @CurrentUser() caller: AuthUser,
    @Param('id', MessageId) id: string,
    @Param('emoji', Emoji) emoji: string,
    @Query() query: CursorPageQuery,
  ) {
    return this.reactions.reactors(caller, id, emoji, query.limit, query.cursor);
  }
}
