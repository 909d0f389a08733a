import { expect } from 'vitest';
import type { Message, ParleyClient } from '@parley/client';

/**
 * Records what a @parley/client client emits, so a test can check the library's promise:
 * every message once, per conversation in seq order, and every later version of it once.
 */
export class Recorder {
  /** `message` events per conversation, in the order emitted. */
  readonly emitted = new Map<string, Message[]>();
  /** Every version emitted (`message` and `messageUpdated`): `<id>@<changeSeq>`. */
  readonly versions: string[] = [];
  /** The newest version held of each message, by conversation and seq. */
  readonly held = new Map<string, Map<number, Message>>();
  readonly updates: Message[] = [];

  constructor(client: ParleyClient) {
    client.on('message', (message) => {
      this.emitted.set(message.conversationId, [...(this.emitted.get(message.conversationId) ?? []), message]);
      this.hold(message);
    });
    client.on('messageUpdated', (message) => {
      this.updates.push(message);
      this.hold(message);
    });
  }

  /** The bodies emitted as new messages in one conversation, in order. */
  bodies(conversationId: string): (string | null)[] {
    return (this.emitted.get(conversationId) ?? []).map((message) => message.body);
  }

  /** The messages held for one conversation, newest version of each, by seq. */
  messages(conversationId: string): Message[] {
    return [...(this.held.get(conversationId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  /** Each message emitted once, in seq order from `firstSeq` with no gap; no version twice. */
  expectExactlyOnceInOrder(conversationId: string, firstSeq = 1): void {
    const seqs = (this.emitted.get(conversationId) ?? []).map((message) => message.seq);
    expect(seqs).toEqual(seqs.map((_, i) => firstSeq + i));
    expect(this.versions.length, 'a version emitted twice').toBe(new Set(this.versions).size);
  }

  private hold(message: Message): void {
    this.versions.push(`${message.id}@${message.changeSeq}`);
    let bySeq = this.held.get(message.conversationId);
    if (!bySeq) this.held.set(message.conversationId, (bySeq = new Map()));
    bySeq.set(message.seq, message);
  }
}
