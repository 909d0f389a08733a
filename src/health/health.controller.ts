import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public } from '../common/caller/public.decorator.js';
import { usesRedis } from '../redis/redis-clients.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Notifier } from '../notifications/notifier.js';

/** How long a dependency may take to answer before it counts as down. */
const CHECK_TIMEOUT_MS = 1500;

const INDICATORS_SCHEMA = {
  type: 'object',
  additionalProperties: { type: 'object', properties: { status: { type: 'string', enum: ['up', 'down'] } } },
  example: { database: { status: 'up' } },
};

/**
 * Liveness (the process answers) and readiness (its dependencies answer), for load balancers
 * and orchestrators. Readiness answers 503 while PostgreSQL, or Redis where REDIS_URL is set (a
 * Redis Cluster where REDIS_CLUSTER_NODES is: `cluster_state:ok` and every subscription in
 * place), does not answer; during a graceful shutdown every request, these included, gets 503.
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
    if (usesRedis(config)) {
      // The notifier's own connections: what fan-out across instances depends on.
      const down = config.redisClusterNodes ? 'Redis Cluster does not answer, or a shard is down' : 'Redis does not answer';
      this.readinessChecks.push(async () => {
        const redis = indicators.check('redis');
        return (await notifier.isHealthy()) ? redis.up() : redis.down({ message: down });
      });
    }
  }

  @Get('live')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Liveness: 200 while the process runs' })
  @ApiOkResponse({ schema: { type: 'object', example: { status: 'ok', info: {}, error: {}, details: {} } } })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness: 200 when the database (and Redis, where configured) answer, else 503' })
  @ApiOkResponse({
    description: "Terminus' report",
    schema: {
      type: 'object',
      properties: { status: { type: 'string', enum: ['ok'] }, info: INDICATORS_SCHEMA, error: INDICATORS_SCHEMA, details: INDICATORS_SCHEMA },
    },
  })
  @ApiServiceUnavailableResponse({
    description: 'A dependency is down: the contract\'s error shape, plus terminus\' `status` and `details`',
    schema: {
      type: 'object',
      properties: {
        statusCode: { type: 'integer', example: 503 },
        error: { type: 'string', example: 'Service Unavailable' },
        message: { type: 'string', example: 'Not ready: database is down' },
        status: { type: 'string', enum: ['error'] },
        details: { ...INDICATORS_SCHEMA, example: { database: { status: 'down', message: 'timeout of 1500ms exceeded' } } },
      },
    },
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.health.check(this.readinessChecks);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      // Answered here rather than by the global filter, which keeps only `message`: a probe's
      // reader wants to know which dependency is down.
      const report = error.getResponse() as HealthCheckResult;
      const down = Object.keys(report.error ?? {});
      reply.status(503);
      return {
        statusCode: 503,
        error: 'Service Unavailable',
        message: `Not ready: ${down.join(' and ')} ${down.length === 1 ? 'is' : 'are'} down`,
        status: report.status,
        details: report.details,
      };
    }
  }
}
