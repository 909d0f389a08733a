import { Controller, Delete, Get, HttpCode, Param, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { Roles } from '../common/caller/roles.decorator.js';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { ParseIdPipe } from '../common/ids.js';
import { RequestId } from '../logging/request-id.decorator.js';
import { AdminMessagesService } from './admin-messages.service.js';
import { AdminMessagePage } from './admin.views.js';
import { SearchMessagesQuery } from './dto/search-messages.query.js';
import { TakesNoBody } from '../common/takes-no-body.js';

@ApiTags('admin')
@ApiAuthenticated()
@ApiErrors([403, 'The caller is not an admin'])
@Roles('admin')
@Controller('api/v1/admin/messages')
export class AdminMessagesController {
  constructor(private readonly messages: AdminMessagesService) {}

  @Get()
  @ApiOperation({
    summary: 'Search messages in every conversation',
    description: '`q` is a full-text search of bodies; the other parameters filter. Newest first, keyset-paginated.',
  })
  @ApiOkResponse({ type: AdminMessagePage })
  @ApiErrors(400)
  search(@CurrentUser() caller: AuthUser, @Query() query: SearchMessagesQuery) {
    return this.messages.search(caller, query);
  }

  @Delete(':id')
  @TakesNoBody()
  @HttpCode(204)
  @ApiOperation({
    summary: 'Moderation removal',
    description: 'Leaves a tombstone (`body` null, `deletedAt` set) and notifies the members with `message.deleted`.',
  })
  @ApiParam({ name: 'id', description: 'Message id' })
  @ApiNoContentResponse({ description: 'Removed (or already removed)' })
  @ApiErrors([404, 'No such message'])
  remove(@CurrentUser() caller: AuthUser, @Param('id', new ParseIdPipe('Message')) id: string, @RequestId() requestId: string) {
    return this.messages.remove(caller, id, requestId);
  }
}
