import { BadRequestException, type CanActivate, type ExecutionContext, Injectable, UnsupportedMediaTypeException, UseGuards } from '@nestjs/common';
import { unknownField } from './validation.js';

/**
 * A call that takes no body refuses one sent anyway, field by field, as every other call
 * refuses the fields it does not know (the contract's "no mass assignment"). No body, or
 * `{}`, is fine.
 */
@Injectable()
class NoBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ body?: unknown; headers: Record<string, string | undefined> }>();
    // Multipart bodies are taken (unread) for the upload route's sake: one sent here is no JSON.
    if (request.headers['content-type']?.startsWith('multipart/')) throw new UnsupportedMediaTypeException('This call takes no body');
    const body = request.body;
    if (body === undefined) return true;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestException('This call takes no body');
    const fields = Object.keys(body);
    if (fields.length > 0) throw new BadRequestException(fields.map(unknownField));
    return true;
  }
}

/** For the calls that take no body: `POST /auth/ws-ticket` and the DELETEs. */
export const TakesNoBody = () => UseGuards(NoBodyGuard);
