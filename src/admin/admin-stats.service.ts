import { Injectable } from '@nestjs/common';
import { ConnectionRegistry } from '../notifications/connection-registry.js';
import { AdminRepository } from './admin.repository.js';
import type { StatsView } from './admin.views.js';

@Injectable()
export class AdminStatsService {
  constructor(
    private readonly admin: AdminRepository,
    private readonly connections: ConnectionRegistry,
  ) {}

  async stats(): Promise<StatsView> {
    const counts = await this.admin.counts();
    return {
      users: Number(counts.users),
      conversations: Number(counts.conversations),
      messages: Number(counts.messages),
      messagesLast24h: Number(counts.messagesLast24h),
      attachments: Number(counts.attachments),
      attachmentBytes: Number(counts.attachmentBytes),
      // This instance's sockets; across instances, sum the parley_ws_connections metric.
      connections: this.connections.size,
    };
  }
}
