import multipart from '@fastify/multipart';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * Lets Fastify take `multipart/form-data` bodies, which only `POST /api/v1/attachments` reads
 * (as a stream: the plugin buffers nothing, and its limits are set per upload). Elsewhere such a
 * body is never parsed, so none of its fields reaches a handler.
 */
export async function acceptUploads(app: NestFastifyApplication): Promise<void> {
  await app.register(multipart);
}
