import { ConflictException, ForbiddenException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import type { AuthUser } from '../common/caller/caller.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { CloseCode } from '../notifications/frames.js';
import { Notifier } from '../notifications/notifier.js';
import { LastSeenRecorder } from '../users/last-seen.recorder.js';
import { UsersRepository } from '../users/users.repository.js';
import { toAdminUserView, type AdminUserPage, type AdminUserView } from './admin.views.js';
import type { ListAdminUsersQuery } from './dto/list-admin-users.query.js';
import type { UpdateUserDto } from './dto/update-user.dto.js';

/**
 * Listing users and changing their role or activation.
 *
 * The rule that keeps an installation from losing its last admin: an admin cannot demote or
 * deactivate itself (another admin must), and the caller must still be an active admin at the
 * moment its change is made. So whoever makes a change stays an admin, and of two admins who
 * demote each other at once, the second finds it is no longer one and gets 403.
 */
@Injectable()
export class AdminUsersService {
  private readonly logger = new Logger(AdminUsersService.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly notifier: Notifier,
    private readonly lastSeen: LastSeenRecorder,
  ) {}

  async list(query: ListAdminUsersQuery): Promise<AdminUserPage> {
    await this.lastSeen.flush();
    const afterUsername = query.cursor ? decodeCursor(query.cursor, ['string'])[0] : undefined;
    const rows = await this.users.listForAdmin(
      { q: query.q?.trim() || undefined, role: query.role, active: query.active, afterUsername },
      query.limit + 1,
    );
    const items = rows.slice(0, query.limit).map(toAdminUserView);
    const nextCursor = rows.length > query.limit ? encodeCursor([items[items.length - 1].username]) : null;
    return { items, nextCursor };
  }

  /** `requestId` goes on the line that records the change. */
  async update(caller: AuthUser, userId: string, dto: UpdateUserDto, requestId: string): Promise<AdminUserView> {
    if (userId === caller.id && (dto.role === 'user' || dto.active === false)) {
      throw new ConflictException('An admin cannot demote or deactivate itself; another admin must');
    }
    const result = await this.users.changeRoleOrActivation(caller.id, userId, { role: dto.role, active: dto.active });
    if (result === 'caller-not-admin') throw new ForbiddenException('This needs the admin role');
    if (result === 'not-found') throw new NotFoundException('User not found');
    const { user, deactivatedBotIds } = result;
    if (dto.active === false) {
      // Its tokens (and its bots') stopped working with the commit; their open sockets, on every instance, go now.
      for (const id of [userId, ...deactivatedBotIds]) this.notifier.disconnectUser(id, CloseCode.Unauthorized, 'deactivated');
    }
    this.logger.log(
      { reqId: requestId },
      `Admin ${caller.username} (${caller.id}) changed user ${user.username} (${userId}): ${JSON.stringify(dto)}` +
        (deactivatedBotIds.length > 0 ? `; its bots ${deactivatedBotIds.join(', ')} deactivated with it` : ''),
    );
    return toAdminUserView(user);
  }
}
