import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import type { AuthUser } from './auth-user.js';
import { AuthService } from './auth.service.js';
import { CurrentUser } from './current-user.decorator.js';
import { LoginDto } from './dto/login.dto.js';
import { RegisterDto } from './dto/register.dto.js';
import { Public } from './public.decorator.js';
import { RateLimited } from '../rate-limit/rate-limit.decorator.js';
import { TokenService } from './token.service.js';

@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: TokenService,
  ) {}

  @Public()
  @RateLimited('register')
  @Post('register')
  register(@Body() dto: RegisterDto) {
    return this.auth.register(dto);
  }

  @Public()
  @RateLimited('login')
  @Post('login')
  @HttpCode(200)
  login(@Body() dto: LoginDto) {
    return this.auth.login(dto);
  }

  @Post('ws-ticket')
  wsTicket(@CurrentUser() caller: AuthUser) {
    return this.tokens.issueWsTicket(caller.id);
  }
}
