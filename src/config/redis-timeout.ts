/**
 * How long a Redis command that a request waits on (a rate-limit count, the readiness ping) or
 * that would pile up in memory (a publish) may go unanswered. A Redis that keeps its
 * connections but stops answering (hung, or behind a network that drops every packet) held
 * each such request for ever: sends and logins went unanswered, and so did /health/ready.
 * Redis answers in well under a millisecond; a count that times out lets its request through,
 * as any failure of the counter store does.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 1000;
