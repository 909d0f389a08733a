import { createSecretKey } from 'node:crypto';
import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { UsersModule } from '../users/users.module.js';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { BotTokens } from './bot-tokens.js';
import { AuthService } from './auth.service.js';
import { PasswordHasher } from './password-hasher.js';
import { RolesGuard } from './roles.guard.js';
import { SessionsRepository } from './sessions.repository.js';
import { TokenService } from './token.service.js';
import { WsTicketsRepository } from './ws-tickets.repository.js';

@Module({
  imports: [
    UsersModule,
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        // A KeyObject, made once: given a string, jsonwebtoken first tries to parse it as a PEM
        // public key on every verify and throws. Chosen for speed (docs/performance.md).
        secret: createSecretKey(Buffer.from(config.jwtSecret)),
        signOptions: { expiresIn: config.accessTokenTtlSeconds, algorithm: 'HS256' },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [
    AuthService,
    PasswordHasher,
    TokenService,
    BotTokens,
    SessionsRepository,
    WsTicketsRepository,
    { provide: APP_GUARD, useClass: AuthGuard },
    // After AuthGuard (guards run in the order they are provided): it reads the caller's role.
    { provide: APP_GUARD, useClass: RolesGuard },
  ],
  exports: [TokenService, PasswordHasher, SessionsRepository, BotTokens],
})
export class AuthModule {}
