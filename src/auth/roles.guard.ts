import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Role } from '../common/caller/role.js';
import type { AuthUser } from '../common/caller/caller.js';
import { ROLES } from '../common/caller/roles.decorator.js';

/**
 * Global guard, after AuthGuard: a route marked @Roles(...) answers 403 to anyone else. The role
 * comes from the row AuthGuard has just read, so a promotion or demotion counts on the very next
 * request, on every instance.
 */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES, [context.getHandler(), context.getClass()]);
    if (!roles) return true;
    const user = context.switchToHttp().getRequest<{ user?: AuthUser }>().user;
    if (!user || !roles.includes(user.role)) throw new ForbiddenException(`This needs the ${roles.join(' or ')} role`);
    return true;
  }
}
