import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { AuthUser } from './caller.js';

/**
 * The authenticated caller, as set by AuthGuard: an `AuthUser`, or only a `Caller` on routes
 * marked CallerCheckedByQuery (declare the parameter's type accordingly).
 */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthUser => context.switchToHttp().getRequest().user,
);
