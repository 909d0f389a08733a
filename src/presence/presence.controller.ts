import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { PresenceQuery } from './dto/presence.query.js';
import { PresenceService } from './presence.service.js';
import { PresenceList } from './presence.view.js';

@ApiTags('users')
@ApiAuthenticated()
@Controller('api/v1/presence')
export class PresenceController {
  constructor(private readonly presence: PresenceService) {}

  @Get()
  @ApiOperation({
    summary: 'Who is online, of the users who share a conversation with the caller',
    description:
      'A user is online while it holds a socket on any instance, and for 10 s after its last one closes. A user with `sharePresence: false` is always `offline` with `lastSeenAt: null` to others. Changes arrive on the socket as `{"type":"presence","userId","status","lastSeenAt"}`.',
  })
  @ApiOkResponse({ type: PresenceList })
  @ApiErrors(400)
  async list(@CurrentUser() caller: AuthUser, @Query() query: PresenceQuery): Promise<PresenceList> {
    return { items: await this.presence.list(caller.id, query.userIds) };
  }
}
