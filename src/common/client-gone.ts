import { createParamDecorator, HttpException, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** nginx's "client closed request": logged for work dropped because nobody waits for it. */
export const CLIENT_CLOSED_REQUEST = 499;

/** Thrown where work stopped because its client went away; the answer reaches nobody. */
export class ClientGoneException extends HttpException {
  constructor() {
    super('The client closed the connection before the answer', CLIENT_CLOSED_REQUEST);
  }
}

/**
 * An AbortSignal that fires if the client closes its connection before the answer is sent, so
 * that work queued for it can be dropped. It listens on the response: since Node 16 a request's
 * own 'close' fires as soon as its body has been read, which Fastify has done before any handler.
 */
export const ClientGoneSignal = createParamDecorator((_: unknown, context: ExecutionContext): AbortSignal => {
  const http = context.switchToHttp();
  const request = http.getRequest<FastifyRequest>();
  const response = http.getResponse<FastifyReply>().raw;
  const controller = new AbortController();
  if (request.raw.socket.destroyed) controller.abort();
  else response.once('close', () => response.writableFinished || controller.abort());
  return controller.signal;
});
