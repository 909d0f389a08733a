import { Injectable } from '@nestjs/common';
import { ConnectionRegistry } from './connection-registry.js';
import type { ServerFrame } from './frames.js';
import { Notifier } from './notifier.js';

/** One instance: frames go straight to this process's sockets. */
@Injectable()
export class LocalNotifier extends Notifier {
  constructor(private readonly connections: ConnectionRegistry) {
    super();
  }

  publish(userIds: readonly string[], frame: ServerFrame): void {
    this.beforePublish(userIds, frame);
    this.connections.deliver(userIds, frame);
    this.reached(frame);
  }

  disconnectUser(userId: string, code: number, reason: string): void {
    this.connections.disconnect(userId, code, reason);
  }

  disconnectSession(userId: string, sessionId: string, code: number, reason: string): void {
    this.connections.disconnectSession(userId, sessionId, code, reason);
  }
}
