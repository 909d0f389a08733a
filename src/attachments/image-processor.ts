import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadRequestException, Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { ProcessedImage } from './image-work.js';
import type { ImageReply, ImageRequest } from './image-worker.js';

export { THUMBNAIL_MAX_SIDE, type ProcessedImage } from './image-work.js';
export const THUMBNAIL_CONTENT_TYPE = 'image/webp';

/** How much lower than the server's the image process's CPU priority is (nice, 0–19). */
const IMAGE_PROCESS_NICENESS = 10;

/**
 * The image process's compiled file. Under vitest this module is the TypeScript source, which
 * a child process cannot run, so it takes the build's (the test setup builds it first).
 */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return path.resolve(path.dirname(here), '../../dist/src/attachments/image-worker.js');
  return path.join(path.dirname(here), 'image-worker.js');
}

interface Waiting {
  task: ImageRequest['task'];
  /** Children that ended while holding it. */
  crashes: number;
  resolve: (image: ProcessedImage) => void;
  reject: (error: Error) => void;
}

/** A task whose child ends under it is given to a new child this many times before it fails. */
const CRASHES_PER_TASK = 2;

/**
 * Reads an uploaded image's size, strips its metadata and makes its thumbnail (image-work.ts),
 * in a child process of its own at a lower CPU priority: on a machine whose cores are busy, the
 * kernel gives them to the server's requests and notifications and to PostgreSQL first, so a
 * burst of uploads slows the uploads rather than everyone's messages. At most
 * ATTACHMENT_IMAGE_CONCURRENCY images are decoded at a time; further uploads wait their turn.
 * A decoder crash (a hostile file) ends the child, not the server: what it held goes to a new
 * child (a task sent just before the crash was seen, or an OOM kill, then succeeds), and an image
 * that ends two children fails its upload with 400.
 */
@Injectable()
export class ImageProcessor implements OnModuleDestroy {
  private readonly logger = new Logger(ImageProcessor.name);
  private running = 0;
  private readonly turns: (() => void)[] = [];
  private child: ChildProcess | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Processes the image at `file` (of sniffed type `contentType`) in place. 400 if it cannot be read or is too large. */
  async process(file: string, contentType: string): Promise<ProcessedImage> {
    await this.turn();
    try {
      return await this.send({
        file,
        contentType,
        maxPixels: this.config.attachmentMaxImagePixels,
        stripMetadata: this.config.attachmentStripMetadata,
      });
    } finally {
      this.release();
    }
  }

  onModuleDestroy(): void {
    this.child?.kill();
    this.child = undefined;
  }

  private send(task: ImageRequest['task']): Promise<ProcessedImage> {
    return new Promise((resolve, reject) => this.dispatch({ task, crashes: 0, resolve, reject }));
  }

  private dispatch(waiting: Waiting): void {
    const id = this.nextId++;
    this.waiting.set(id, waiting);
    this.imageProcess().send({ id, task: waiting.task } satisfies ImageRequest);
  }

  private imageProcess(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(workerFile(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.child = child;
    try {
      if (child.pid !== undefined) setPriority(child.pid, IMAGE_PROCESS_NICENESS);
    } catch (error) {
      this.logger.warn(`Could not lower the image process's priority: ${(error as Error).message}`);
    }
    // A send to a child that has just died fails here; its exit gives the task to a new child.
    child.on('error', (error) => this.logger.warn(`The image process: ${error.message}`));
    child.on('message', (reply: ImageReply) => {
      const waiting = this.waiting.get(reply.id);
      if (!waiting) return;
      this.waiting.delete(reply.id);
      if ('image' in reply) waiting.resolve(reply.image);
      else if ('refused' in reply) waiting.reject(new BadRequestException(reply.refused));
      else waiting.reject(new Error(`Image processing failed: ${reply.failed}`));
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.waiting.size === 0) return;
      this.logger.error(`The image process ended (${signal ?? code}) with ${this.waiting.size} image(s) under way`);
      const held = [...this.waiting.values()];
      this.waiting.clear();
      for (const waiting of held) {
        waiting.crashes++;
        if (waiting.crashes < CRASHES_PER_TASK) this.dispatch(waiting);
        else waiting.reject(new BadRequestException('The image could not be read (its decoder stopped)'));
      }
    });
    // Neither keeps the server running on its own.
    child.unref();
    child.channel?.unref();
    return child;
  }

  private turn(): Promise<void> {
    if (this.running < this.config.attachmentImageConcurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.turns.push(resolve));
  }

  private release(): void {
    const next = this.turns.shift();
    if (next) next();
    else this.running--;
  }
}
