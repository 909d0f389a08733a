import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs.js';
import { Public } from '../common/caller/public.decorator.js';
import { MetricsAccessGuard } from './metrics-access.js';
import { METRICS_CONTENT_TYPE } from './metrics-listener.js';
import { Metrics } from './metrics.service.js';

@ApiTags('operations')
// Not the users' access tokens: METRICS_TOKEN, checked by MetricsAccessGuard.
@Public()
@UseGuards(MetricsAccessGuard)
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  @Header('Content-Type', METRICS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'HTTP request durations by route and status, open WebSocket connections, messages stored, notifications sent, commit-to-notification latency, database pool use, and process metrics. Served here only when METRICS_TOKEN is set, to `Authorization: Bearer <METRICS_TOKEN>`; otherwise 404. METRICS_PORT serves it on a separate listener instead.',
  })
  @ApiBearerAuth('metrics')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format', schema: { type: 'string' } })
  @ApiErrors([401, 'METRICS_TOKEN is set and the request does not carry it'], [404, 'METRICS_TOKEN is not set: metrics are not served on this port'])
  scrape(): Promise<string> {
    return this.metrics.render();
  }
}
