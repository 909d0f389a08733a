import { Controller, Get, Param, Query } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { ListUsersQuery } from './dto/list-users.query.js';
import { UsersService } from './users.service.js';
import { toUserView } from './user.view.js';

@Controller('api/v1/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get('me')
  async me(@CurrentUser() caller: AuthUser) {
    return toUserView(await this.users.getById(caller.id));
  }

  @Get()
  list(@CurrentUser() caller: AuthUser, @Query() query: ListUsersQuery) {
    return this.users.search(caller.id, query.q, query.limit, query.cursor);
  }

  /** Beyond the contract: names the members of a conversation (which carries only their ids). */
  @Get(':id')
  get(@Param('id', new ParseIdPipe('User')) id: string) {
    return this.users.getActive(id);
  }
}
