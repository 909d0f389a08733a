import { describe, expect, expectTypeOf, it } from 'vitest';
import { parseServerFrame, type ClientFrame as ClientSends, type ServerFrame as ClientReads } from '@parley/client';
import type { ClientFrame as ServerTakes, ServerFrame as ServerSends } from '../../src/notifications/frames.js';

/**
 * The socket's frames are typed twice: by the server, and by @parley/client, which is published
 * on its own and so cannot import the server's types. These keep the two from drifting apart
 * (tsc checks the types in `npm run check`; the test below, what the client parses).
 */
describe('the socket frames as the server and the client package type them', () => {
  it('lets the client read every frame the server sends, and the server take every frame the client sends', () => {
    expectTypeOf<ServerSends>().toExtend<ClientReads>();
    expectTypeOf<ClientSends>().toExtend<ServerTakes>();
  });

  it('has the client parse a frame of every type the server sends, not drop it as unknown', () => {
    // Keyed by type: a frame type added to the server's union and not here fails to compile.
    const examples: { [T in ServerSends['type']]: ServerSends & { type: T } } = {
      ready: { type: 'ready', userId: '1' },
      'message.created': { type: 'message.created', id: '2', conversationId: '3', seq: 1, changeSeq: 1 },
      'message.updated': { type: 'message.updated', id: '2', conversationId: '3', seq: 1, changeSeq: 2 },
      'message.deleted': { type: 'message.deleted', id: '2', conversationId: '3', seq: 1, changeSeq: 3 },
      'conversation.updated': { type: 'conversation.updated', conversationId: '3' },
      'conversation.read': { type: 'conversation.read', conversationId: '3', userId: '1', seq: 1, lastReadSeq: 1 },
      resync: { type: 'resync' },
      pong: { type: 'pong' },
      'token.expiring': { type: 'token.expiring', expiresAt: '2026-12-08T00:00:00.000Z' },
      typing: { type: 'typing', conversationId: '3', userId: '1' },
      presence: { type: 'presence', userId: '1', status: 'online', lastSeenAt: '2026-12-08T00:00:00.000Z' },
    };
    for (const frame of Object.values(examples)) expect(parseServerFrame(JSON.stringify(frame))).toEqual(frame);
  });
});
