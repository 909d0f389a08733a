import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../common/caller/roles.decorator.js';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import { AdminStatsService } from './admin-stats.service.js';
import { StatsView } from './admin.views.js';

@ApiTags('admin')
@ApiAuthenticated()
@ApiErrors([403, 'The caller is not an admin'])
@Roles('admin')
@Controller('api/v1/admin/stats')
export class AdminStatsController {
  constructor(private readonly stats: AdminStatsService) {}

  @Get()
  @ApiOperation({ summary: 'Counts of users, conversations and messages, open connections, and storage used by attachments' })
  @ApiOkResponse({ type: StatsView })
  get() {
    return this.stats.stats();
  }
}
