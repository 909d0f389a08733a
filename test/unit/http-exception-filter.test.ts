import { Logger, NotFoundException, type ArgumentsHost } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HttpExceptionFilter } from '../../src/common/http-exception.filter.js';

/** The filter with an adapter that records the reply, and a host for one request with id `reqId`. */
function filterFor(reqId: string) {
  const replies: { body: unknown; status: number }[] = [];
  const adapterHost = {
    httpAdapter: { reply: (_response: unknown, body: unknown, status: number) => replies.push({ body, status }), setHeader: () => undefined },
  } as unknown as HttpAdapterHost;
  const request = { id: reqId };
  const host = {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}) }),
  } as unknown as ArgumentsHost;
  return { filter: new HttpExceptionFilter(adapterHost), host, replies };
}

describe('HttpExceptionFilter', () => {
  afterEach(() => vi.restoreAllMocks());

  it("logs an unexpected error's stack with the request's id and answers a bare 500", () => {
    const logged = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const { filter, host, replies } = filterFor('req-500');
    const failure = new Error('column "nope" does not exist');
    filter.catch(failure, host);
    expect(logged).toHaveBeenCalledExactlyOnceWith({ reqId: 'req-500' }, failure.stack);
    expect(replies).toEqual([{ status: 500, body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' } }]);
  });

  it('logs nothing for a client error', () => {
    const logged = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const { filter, host, replies } = filterFor('req-404');
    filter.catch(new NotFoundException('Message not found'), host);
    expect(logged).not.toHaveBeenCalled();
    expect(replies).toEqual([{ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'Message not found' } }]);
  });
});
