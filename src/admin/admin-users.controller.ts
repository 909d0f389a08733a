import { Body, Controller, Get, Param, Patch, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { Roles } from '../common/caller/roles.decorator.js';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { ParseIdPipe } from '../common/ids.js';
import { RequestId } from '../logging/request-id.decorator.js';
import { AdminUsersService } from './admin-users.service.js';
import { AdminUserPage, AdminUserView } from './admin.views.js';
import { ListAdminUsersQuery } from './dto/list-admin-users.query.js';
import { UpdateUserDto } from './dto/update-user.dto.js';

@ApiTags('admin')
@ApiAuthenticated()
@ApiErrors([403, 'The caller is not an admin'])
@Roles('admin')
@Controller('api/v1/admin/users')
export class AdminUsersController {
  constructor(private readonly users: AdminUsersService) {}

  @Get()
  @ApiOperation({ summary: 'List and search users, with role, activation, last seen time and message count' })
  @ApiOkResponse({ type: AdminUserPage, description: 'By username' })
  @ApiErrors(400)
  list(@Query() query: ListAdminUsersQuery) {
    return this.users.list(query);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Promote, demote, deactivate or reactivate a user',
    description:
      'Deactivating takes effect at once: the user\'s tokens are refused from the next request on, and its open sockets are closed with code 4401. An admin cannot demote or deactivate itself (409), so an installation always keeps an admin.',
  })
  @ApiParam({ name: 'id', description: 'User id' })
  @ApiOkResponse({ type: AdminUserView })
  @ApiErrors(400, [404, 'No such user'], [409, 'An admin cannot demote or deactivate itself'])
  update(
    @CurrentUser() caller: AuthUser,
    @Param('id', new ParseIdPipe('User')) id: string,
    @Body() dto: UpdateUserDto,
    @RequestId() requestId: string,
  ) {
    return this.users.update(caller, id, dto, requestId);
  }
}
