import { Injectable } from '@nestjs/common';

/** A client frame's handler: the socket's user and the frame as parsed (a JSON object with a `type`). */
export type ClientFrameHandler = (userId: string, frame: Record<string, unknown>) => void;

/**
 * Handlers of client frame types that other features own (`typing`), registered by them, so
 * that the gateway needs no import of theirs: they depend on the Notifier, which lives here.
 */
@Injectable()
export class ClientFrames {
  private readonly handlers = new Map<string, ClientFrameHandler>();

  register(type: string, handler: ClientFrameHandler): void {
    if (this.handlers.has(type)) throw new Error(`A handler of ${type} frames is already registered`);
    this.handlers.set(type, handler);
  }

  /** Hands the frame to its type's handler; frames of a type nobody handles are ignored. */
  handle(type: string, userId: string, frame: Record<string, unknown>): void {
    this.handlers.get(type)?.(userId, frame);
  }
}
