import { ImageRefused, processImage, type ImageTask, type ProcessedImage } from './image-work.js';

/** A task for the image process, and its answer. */
export interface ImageRequest {
  id: number;
  task: ImageTask;
}

export type ImageReply = { id: number; image: ProcessedImage } | { id: number; refused: string } | { id: number; failed: string };

/**
 * The image process: ImageProcessor forks it, at a lower CPU priority, and sends it one task
 * per uploaded image. Decoding runs here, so a burst of uploads gives way to the server's
 * requests and notifications, and a decoder crash on a hostile file ends this process, not
 * the server.
 */
process.on('message', (request: ImageRequest) => {
  processImage(request.task).then(
    (image) => reply({ id: request.id, image }),
    (error: unknown) =>
      reply(error instanceof ImageRefused ? { id: request.id, refused: error.message } : { id: request.id, failed: String((error as Error)?.message ?? error) }),
  );
});

function reply(answer: ImageReply): void {
  process.send?.(answer);
}

// The server went away (its IPC channel closed): so does this process.
process.on('disconnect', () => process.exit(0));
