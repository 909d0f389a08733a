import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { Session, WsTicket } from './auth.views.js';
import type { AuthUser } from './auth-user.js';
import { AuthService } from './auth.service.js';
import { CurrentUser } from './current-user.decorator.js';
import { LoginDto } from './dto/login.dto.js';
import { RegisterDto } from './dto/register.dto.js';
import { Public } from './public.decorator.js';
import { RateLimited } from '../rate-limit/rate-limit.decorator.js';
import { TokenService } from './token.service.js';
import { TakesNoBody } from '../common/takes-no-body.js';

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
  @ApiOperation({ summary: 'Create an account and get an access token' })
  @ApiCreatedResponse({ type: Session })
  @ApiErrors([409, 'The username is taken'], 429)
  register(@Body() dto: RegisterDto) {
    return this.auth.register(dto);
  }

  @Public()
  @RateLimited('login')
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Get an access token' })
  @ApiOkResponse({ type: Session })
  @ApiErrors([401, 'Bad credentials, or the user is deactivated'], 429)
  login(@Body() dto: LoginDto) {
    return this.auth.login(dto);
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
