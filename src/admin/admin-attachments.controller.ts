import { Controller, Delete, HttpCode, Param } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { Roles } from '../common/caller/roles.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { TakesNoBody } from '../common/takes-no-body.js';
import { RequestId } from '../logging/request-id.decorator.js';
import { AdminAttachmentsService } from './admin-attachments.service.js';

@ApiTags('admin')
@ApiAuthenticated()
@ApiErrors([403, 'The caller is not an admin'])
@Roles('admin')
@Controller('api/v1/admin/attachments')
export class AdminAttachmentsController {
  constructor(private readonly attachments: AdminAttachmentsService) {}

  @Delete(':id')
  @TakesNoBody()
  @HttpCode(204)
  @ApiOperation({
    summary: 'Moderation removal of an attachment',
    description:
      'The attachment disappears from its message at once (the members get `message.updated`, its `changeSeq` moves), or from its uploader if not attached yet; the cleanup job deletes its files.',
  })
  @ApiParam({ name: 'id', description: 'Attachment id' })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors([404, 'No such attachment, or removed already'])
  remove(@CurrentUser() caller: AuthUser, @Param('id', new ParseIdPipe('Attachment')) id: string, @RequestId() requestId: string) {
    return this.attachments.remove(caller, id, requestId);
  }
}
