import { Global, Module } from '@nestjs/common';
import { MetricsAccessGuard } from './metrics-access.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsListener } from './metrics-listener.js';
import { Metrics } from './metrics.service.js';

/** Global: any service may count something; `configureApp` times every HTTP request. */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [Metrics, MetricsAccessGuard, MetricsListener],
  exports: [Metrics],
})
export class MetricsModule {}
