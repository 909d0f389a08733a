import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TokenService } from './token.service.js';
import { IS_PUBLIC } from '../common/caller/public.decorator.js';
import { CALLER_CHECKED_BY_QUERY } from '../common/caller/caller-checked-by-query.decorator.js';

/** Global guard: every route needs a valid bearer token unless it is marked @Public(). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest();
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new UnauthorizedException('Missing bearer token');
    const checkedByQuery = this.reflector.get<boolean>(CALLER_CHECKED_BY_QUERY, context.getHandler());
    if (checkedByQuery) {
      // Sending and reading a message check the caller in their own statement, so a token whose
      // signature was checked before is all this needs: answered without a promise, which Nest
      // would otherwise await (every promise costs the request CPU time).
      const known = this.tokens.verifiedBefore(token);
      if (known) {
        request.user = known;
        return true;
      }
    }
    return this.attachCaller(request, token, checkedByQuery);
  }

  private async attachCaller(request: { user?: unknown }, token: string, checkedByQuery: boolean): Promise<boolean> {
    request.user = checkedByQuery ? await this.tokens.verify(token) : await this.tokens.authenticate(token);
    return true;
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
