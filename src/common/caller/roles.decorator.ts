import { SetMetadata } from '@nestjs/common';
import type { Role } from './role.js';

export const ROLES = 'parley:roles';

/** Only callers with one of these roles may use the route (or every route of the controller). */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);
