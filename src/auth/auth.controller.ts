import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { Session, WsTicket } from './auth.views.js';
import type { AuthUser } from '../common/caller/caller.js';
import { AuthService } from './auth.service.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { LoginDto } from './dto/login.dto.js';
import { RegisterDto } from './dto/register.dto.js';
import { Public } from '../common/caller/public.decorator.js';
import { RateLimited } from '../rate-limit/rate-limit.decorator.js';
import { TokenService } from './token.service.js';
import { TakesNoBody } from '../common/takes-no-body.js';
import { ClientGoneSignal } from '../common/client-gone.js';

const HASHING_BUSY: [number, string] = [
  503,
  'The database is unavailable, or too many logins and registrations are being hashed at once; see Retry-After',
];

@ApiTags('auth')
@ApiErrors(400, 503)
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: TokenService,
  ) {}

  @Public()
  @RateLimited('register')
  @Post('register')
  @ApiOperation({ summary: 'Create an account and start a session: an access token and a refresh token' })
  @ApiCreatedResponse({ type: Session })
  @ApiErrors([409, 'The username is taken'], 429, HASHING_BUSY)
  register(@Body() dto: RegisterDto, @Headers('user-agent') userAgent: string | undefined, @ClientGoneSignal() clientGone: AbortSignal) {
    return this.auth.register(dto, userAgent, clientGone);
  }

  @Public()
  @RateLimited('login')
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Start a session: an access token and a refresh token' })
  @ApiOkResponse({ type: Session })
  @ApiErrors([401, 'Bad credentials, or the user is deactivated'], 429, HASHING_BUSY)
  login(@Body() dto: LoginDto, @Headers('user-agent') userAgent: string | undefined, @ClientGoneSignal() clientGone: AbortSignal) {
    return this.auth.login(dto, userAgent, clientGone);
  }

  @Post('ws-ticket')
  @TakesNoBody()
  @ApiOperation({ summary: 'A single-use ticket to open /ws from a browser (which cannot set headers on a WebSocket)' })
  @ApiAuthenticated()
  @ApiCreatedResponse({ type: WsTicket })
  wsTicket(@CurrentUser() caller: AuthUser) {
    return this.tokens.issueWsTicket(caller);
  }
}
