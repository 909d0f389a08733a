import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/caller/caller.js';
import { TokenPair } from '../auth/auth.views.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { Public } from '../common/caller/public.decorator.js';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { ParseIdPipe } from '../common/ids.js';
import { TakesNoBody } from '../common/takes-no-body.js';
import { RateLimited } from '../rate-limit/rate-limit.decorator.js';
import { RefreshDto } from './dto/refresh.dto.js';
import { SessionsService } from './sessions.service.js';
import { SessionList } from './sessions.views.js';

@ApiTags('auth')
@ApiErrors(400, 503)
@Controller('api/v1/auth')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Public()
  @RateLimited('refresh')
  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Exchange a refresh token for a new access token and refresh token',
    description:
      'The refresh token given is used up. Presenting a used-up one again ends its whole session (it was copied): ' +
      '401, and the session’s access tokens and sockets stop working.',
  })
  @ApiOkResponse({ type: TokenPair })
  @ApiErrors([401, 'Unknown, used-up or expired refresh token, or its session has ended'], 429)
  refresh(@Body() dto: RefreshDto) {
    return this.sessions.refresh(dto.refreshToken);
  }

  @Post('logout')
  @HttpCode(204)
  @TakesNoBody()
  @ApiOperation({ summary: 'End the caller’s session: its refresh token, its access tokens, its sockets (closed with 4401)' })
  @ApiAuthenticated()
  @ApiNoContentResponse({ description: 'Ended' })
  logout(@CurrentUser() caller: AuthUser) {
    return this.sessions.logout(caller);
  }

  @Get('sessions')
  @ApiOperation({ summary: 'The caller’s live sessions (its devices and browsers)' })
  @ApiAuthenticated()
  @ApiOkResponse({ type: SessionList })
  list(@CurrentUser() caller: AuthUser) {
    return this.sessions.list(caller);
  }

  @Delete('sessions/:id')
  @HttpCode(204)
  @TakesNoBody()
  @ApiOperation({ summary: 'End one of the caller’s sessions, as logout does' })
  @ApiAuthenticated()
  @ApiNoContentResponse({ description: 'Ended' })
  @ApiErrors([404, 'No live session of the caller by that id'])
  revoke(@CurrentUser() caller: AuthUser, @Param('id', new ParseIdPipe('Session')) id: string) {
    return this.sessions.revoke(caller, id);
  }
}
