import { SetMetadata } from '@nestjs/common';

export type RateLimitPolicy = 'login' | 'register' | 'refresh' | 'send';

export const RATE_LIMIT_POLICY = 'parley:rate-limit';

/** Limits how often a route may be called, per the named policy's RATE_LIMIT_* settings. */
export const RateLimited = (policy: RateLimitPolicy) => SetMetadata(RATE_LIMIT_POLICY, policy);
