import { createHash, timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, Inject, Injectable, NotFoundException, UnauthorizedException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

export const METRICS_TOKEN_REQUIRED = 'A metrics token is required: Authorization: Bearer <METRICS_TOKEN>';

/**
 * Whether an Authorization header carries `Bearer <token>`. Both sides are hashed first, so the
 * comparison is constant-time whatever the length given, and says nothing about the token's.
 */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given ?? ''), digest(token)) && given !== undefined;
}

/**
 * `/metrics` on the main port: it shows failed logins, 429s, message totals and pool state, so
 * it is served only with METRICS_TOKEN. Without one, it is answered exactly as an unknown route
 * (404): no credential could open it, and a 401 would tell a prober there is something to open.
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = this.config.metricsToken;
    if (token === undefined) throw new NotFoundException(`Cannot ${request.method} ${request.url}`);
    if (bearerMatches(request.headers.authorization, token)) return true;
    context.switchToHttp().getResponse<FastifyReply>().header('WWW-Authenticate', 'Bearer realm="metrics"');
    throw new UnauthorizedException(METRICS_TOKEN_REQUIRED);
  }
}
