import { Body, Controller, Get, Param, Patch, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { ListUsersQuery } from './dto/list-users.query.js';
import { UpdateMeDto } from './dto/update-me.dto.js';
import { UsersService } from './users.service.js';
import { SelfView, toSelfView, UserPage, UserView } from './user.view.js';

@ApiTags('users')
@ApiAuthenticated()
@Controller('api/v1/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get('me')
  @ApiOperation({ summary: 'The caller' })
  @ApiOkResponse({ type: SelfView })
  async me(@CurrentUser() caller: AuthUser) {
    return toSelfView(await this.users.getById(caller.id));
  }

  @Patch('me')
  @ApiOperation({ summary: "Changes the caller's display name and what it shares with other members" })
  @ApiOkResponse({ type: SelfView })
  @ApiErrors(400)
  updateMe(@CurrentUser() caller: AuthUser, @Body() changes: UpdateMeDto) {
    return this.users.updateMe(caller.id, changes);
  }

  @Get()
  @ApiOperation({ summary: 'Active users except the caller, by username' })
  @ApiOkResponse({ type: UserPage })
  @ApiErrors(400)
  list(@CurrentUser() caller: AuthUser, @Query() query: ListUsersQuery) {
    return this.users.search(caller.id, query.q, query.limit, query.cursor);
  }

  /** Beyond the contract: names the members of a conversation (which carries only their ids). */
  @Get(':id')
  @ApiOperation({ summary: 'One active user (to name the members of a conversation)' })
  @ApiParam({ name: 'id', description: 'User id' })
  @ApiOkResponse({ type: UserView })
  @ApiErrors([404, 'No such active user'])
  get(@Param('id', new ParseIdPipe('User')) id: string) {
    return this.users.getActive(id);
  }
}
