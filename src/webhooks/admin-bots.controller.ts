import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { Roles } from '../common/caller/roles.decorator.js';
import { WebhookHealthList } from './webhook.views.js';
import { WebhooksService } from './webhooks.service.js';

@ApiTags('admin')
@ApiAuthenticated()
@ApiErrors([403, 'The caller is not an admin'])
@Roles('admin')
@Controller('api/v1/admin/bots')
export class AdminBotsController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Get()
  @ApiOperation({
    summary: 'Bots with a webhook, and its health',
    description:
      'Last success and failure, failures in a row, frames waiting, and dead letters: frames given up on after the webhook failed for more than a day (25 h). The failing ones first.',
  })
  @ApiOkResponse({ type: WebhookHealthList })
  list() {
    return this.webhooks.health();
  }
}
