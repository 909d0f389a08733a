import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import { Public } from '../auth/public.decorator.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Notifier } from '../notifications/notifier.js';

/** How long a dependency may take to answer before it counts as down. */
const CHECK_TIMEOUT_MS = 1500;

/**
 * Liveness (the process answers) and readiness (its dependencies answer), for load balancers
 * and orchestrators. Readiness answers 503 while PostgreSQL, or Redis where REDIS_URL is set,
 * does not answer, and during a graceful shutdown.
 */
@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  private readonly readinessChecks: HealthIndicatorFunction[];

  constructor(
    private readonly health: HealthCheckService,
    database: TypeOrmHealthIndicator,
    indicators: HealthIndicatorService,
    notifier: Notifier,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.readinessChecks = [() => database.pingCheck('database', { timeout: CHECK_TIMEOUT_MS })];
    if (config.redisUrl) {
      // The notifier's own connections: what fan-out across instances depends on.
      this.readinessChecks.push(async () => {
        const redis = indicators.check('redis');
        return (await notifier.isHealthy()) ? redis.up() : redis.down({ message: 'Redis does not answer' });
      });
    }
  }

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: 200 while the process runs' })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: 200 when the database (and Redis, where configured) answer, else 503' })
  ready() {
    return this.health.check(this.readinessChecks);
  }
}
