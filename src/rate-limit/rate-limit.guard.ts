import {
  CanActivate,
  ExecutionContext,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthUser } from '../common/caller/caller.js';
import { OutageLog } from '../common/outage-log.js';
import { usesRedis } from '../redis/redis-clients.js';
import { APP_CONFIG, type AppConfig, type RateLimit } from '../config/app-config.js';
import { RATE_LIMIT_POLICY, type RateLimitPolicy } from './rate-limit.decorator.js';
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore, type WindowCount } from './rate-limit.store.js';

/** A counter's key and its limit (undefined: that limit is off). */
type LimitCheck = [key: string, limit: RateLimit | undefined];

/**
 * Answers 429 with Retry-After once a caller passes a route's limits: per address for login,
 * register and refresh (and for login per attempted username and address, plus a slower one per
 * username from all addresses, against guessing spread over many), per user and per address
 * for sending. Counts are shared through Redis when REDIS_URL (or REDIS_CLUSTER_NODES) is set,
 * so the limits hold for the installation, not per instance. If the store fails, requests are
 * let through: a rate limiter must not take the service down with it.
 */
@Injectable()
export class RateLimitGuard implements CanActivate, OnApplicationShutdown {
  private readonly logger = new Logger(RateLimitGuard.name);
  private readonly store: RateLimitStore;
  private readonly outage = new OutageLog(this.logger, {
    down: 'Rate limit store unavailable, letting requests through unchecked until it is back',
    stillDown: 'Rate limit store still unavailable',
    back: 'Rate limit store available again',
  });

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.store = usesRedis(config)
      ? new RedisRateLimitStore(config, config.redisChannelPrefix)
      : new MemoryRateLimitStore();
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const policy = this.reflector.get<RateLimitPolicy | undefined>(RATE_LIMIT_POLICY, context.getHandler());
    if (!policy) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthUser }>();
    const limits = this.config.rateLimits;
    // Guards run before validation: the body may hold anything, and only a string is a username.
    const username = (request.body as { username?: unknown } | undefined)?.username;
    const name = typeof username === 'string' ? username.toLowerCase() : '';
    const checks: LimitCheck[] =
      policy === 'login'
        ? [
            [`login:ip:${request.ip}`, limits.loginPerAddress],
            // Guessing from one address locks that address out for the user, not the user:
            // the right password from an address without recent attempts still gets in.
            [`login:name-ip:${name}:${request.ip}`, limits.loginPerUsername],
            // Last, so that attempts already refused above do not count here: one address
            // guessing cannot lock a user out everywhere, only many addresses together can.
            [`login:name:${name}`, limits.loginPerUsernameGlobal],
          ]
        : policy === 'register'
          ? [[`register:ip:${request.ip}`, limits.registerPerAddress]]
          : policy === 'refresh'
            ? [[`refresh:ip:${request.ip}`, limits.refreshPerAddress]]
            : [
              [`send:user:${request.user?.id}`, limits.sendPerUser],
              [`send:ip:${request.ip}`, limits.sendPerAddress],
            ];
    return this.countFrom(0, checks, context);
  }

  /**
   * Counts the request against each limit in turn, refusing it at the first it passes (so a
   * request refused per user is not counted per address). Synchronous while the store is
   * (in memory): Nest awaits only a guard that returns a promise, and every promise costs a
   * request CPU time.
   */
  private countFrom(first: number, checks: LimitCheck[], context: ExecutionContext): boolean | Promise<boolean> {
    for (let i = first; i < checks.length; i++) {
      const [key, limit] = checks[i];
      if (!limit) continue;
      const retryAfter = this.hit(key, limit);
      if (retryAfter instanceof Promise) {
        return retryAfter.then((seconds) => {
          this.refuseIfOver(seconds, context);
          return this.countFrom(i + 1, checks, context);
        });
      }
      this.refuseIfOver(retryAfter, context);
    }
    return true;
  }

  private refuseIfOver(retryAfterSeconds: number | undefined, context: ExecutionContext): void {
    if (retryAfterSeconds === undefined) return;
    context.switchToHttp().getResponse<FastifyReply>().header('Retry-After', String(retryAfterSeconds));
    throw new HttpException('Too many requests, slow down', HttpStatus.TOO_MANY_REQUESTS);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  /** Seconds until the window resets if this hit went over the limit, else undefined. */
  private hit(key: string, limit: RateLimit): number | undefined | Promise<number | undefined> {
    try {
      const counted = this.store.hit(key, limit.windowSeconds * 1000);
      if (!(counted instanceof Promise)) return this.counted(counted, limit);
      return counted.then(
        (window) => this.counted(window, limit),
        (error: unknown) => this.letThrough(error),
      );
    } catch (error) {
      return this.letThrough(error);
    }
  }

  private counted(window: WindowCount, limit: RateLimit): number | undefined {
    this.outage.succeeded();
    return retryAfterIfOver(window, limit);
  }

  private letThrough(error: unknown): undefined {
    this.outage.failed((error as Error).message);
    return undefined;
  }
}

function retryAfterIfOver({ count, resetInMs }: WindowCount, limit: RateLimit): number | undefined {
  return count > limit.limit ? Math.max(1, Math.ceil(resetInMs / 1000)) : undefined;
}
