import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ListUsersQuery } from './dto/list-users.query.js';
import { UsersService } from './users.service.js';
import { toUserView, UserPage, UserView } from './user.view.js';

@ApiTags('users')
@ApiAuthenticated()
@Controller('api/v1/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get('me')
  @ApiOperation({ summary: 'The caller' })
  @ApiOkResponse({ type: UserView })
  async me(@CurrentUser() caller: AuthUser) {
    return toUserView(await this.users.getById(caller.id));
  }

  @Get()
  @ApiOperation({ summary: 'Active users except the caller, by username' })
  @ApiOkResponse({ type: UserPage })
  @ApiErrors(400)
  list(@CurrentUser() caller: AuthUser, @Query() query: ListUsersQuery) {
    return this.users.search(caller.id, query.q, query.limit, query.cursor);
  }
}
