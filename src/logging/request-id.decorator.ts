import { createParamDecorator, ExecutionContext } from '@nestjs/common';

/**
 * The id of the request being served (Fastify's `request.id`, echoed in `X-Request-Id`), for a
 * line logged about this request to carry as `reqId`: `logger.log({ reqId }, '...')`.
 *
 * Passed explicitly rather than found through an `AsyncLocalStorage`: on Node 20 an active
 * one runs a hook for every promise the process creates (chosen for speed, docs/performance.md),
 * and work shared by many requests (a batch of sends, the last-seen flush) would have carried
 * whichever request happened to start it.
 */
export const RequestId = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string => context.switchToHttp().getRequest<{ id: string }>().id,
);
