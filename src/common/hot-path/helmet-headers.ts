import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * The headers helmet sets with these options, worked out once by running its middleware a
 * single time against a response that only records them. With no per-response nonces they are
 * the same for every response, so a hook can set them as they are; @fastify/helmet would
 * rebuild the middleware, CSP string included, on every request. Chosen for speed
 * (README.md in this folder).
 */
export function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: unknown) => void (headers[name] = String(value)),
    removeHeader: () => undefined,
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, () => undefined);
  return headers;
}
