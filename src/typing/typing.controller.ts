import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { TakesNoBody } from '../common/takes-no-body.js';
import { TypingService } from './typing.service.js';

@ApiTags('conversations')
@ApiAuthenticated()
@Controller('api/v1/conversations')
export class TypingController {
  constructor(private readonly typingSignals: TypingService) {}

  /** For clients without a socket; a socket sends `{"type":"typing","conversationId"}` instead. */
  @Post(':id/typing')
  @TakesNoBody()
  @HttpCode(204)
  @ApiOperation({
    summary: 'Tell the other members the caller is typing',
    description:
      'They get `{"type":"typing","conversationId","userId"}` on their sockets; nothing is stored. At most one is passed on per user and conversation every 2 s: more are answered 204 and dropped.',
  })
  @ApiNoContentResponse({ description: 'Taken (passed on, or dropped within the 2 s limit)' })
  @ApiErrors(400, [404, 'No such conversation, or the caller is not a member'])
  typing(@CurrentUser() caller: AuthUser, @Param('id', new ParseIdPipe('Conversation')) id: string) {
    return this.typingSignals.fromRequest(caller.id, id);
  }
}
