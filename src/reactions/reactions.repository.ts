import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Batcher } from '../common/batcher.js';
import type { Caller } from '../common/caller/caller.js';
import { isStatementRefused } from '../common/pg-errors.js';
import type { ChangedMessage } from '../messages/messages.repository.js';

/** The most distinct emoji one message carries (API-next B). */
export const MAX_EMOJI_PER_MESSAGE = 20;

/** What a toggle came to; see `toggle_reactions` in the message-features migration. */
export type ToggleOutcome = 'ok' | 'unauthorized' | 'not_found' | 'deleted' | 'not_reactable' | 'too_many';

export interface ToggleResult {
  outcome: ToggleOutcome;
  /**
   * The message as its batch changed it, on the first toggle of that batch to change it only:
   * its members hear of a batch's changes to a message once.
   */
  changed?: ChangedMessage;
}

interface ToggleInput {
  messageId: string;
  caller: Caller;
  emoji: string;
  add: boolean;
}

/** One who reacted, with the key of the list's order (when, then user id). */
export interface ReactorRow {
  id: string;
  username: string;
  displayName: string;
  createdAt: Date;
  reactedAtKey: string;
}

const TOGGLE_BATCH = `SELECT item, outcome, id, conversation_id AS "conversationId", seq, change_seq AS "changeSeq", member_ids AS "memberIds"
  FROM toggle_reactions($1::bigint[], $2::bigint[], $3::integer[], $4::bigint[], $5::text[], $6::boolean[], $7::integer)`;

/**
 * Toggles gathered into one statement while an earlier one runs, as sends are
 * (MessagesRepository): one statement and one commit serve every toggle that arrived
 * meanwhile, and a hot message changes once per batch.
 */
const TOGGLE_BATCHES_IN_FLIGHT = 1;
const TOGGLE_BATCH_MAX = 128;

/**
 * Every statement on `message_reactions`. A toggle also moves its message's counts and change
 * seq and its conversation's change counter, in the same statement (`toggle_reactions`); the
 * list of who reacted reads their names from `users` in the same statement too.
 */
@Injectable()
export class ReactionsRepository {
  private readonly toggles: Batcher<ToggleInput, ToggleResult>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.toggles = new Batcher((inputs) => this.toggleBatch(inputs), {
      maxInFlight: TOGGLE_BATCHES_IN_FLIGHT,
      maxBatch: TOGGLE_BATCH_MAX,
      canRetryAlone: isStatementRefused,
    });
  }

  /**
   * Adds (or removes) the caller's `emoji` on a message it may see; idempotent. The caller is
   * checked in the same statement (active at its token's version, in a live session), as a
   * send's is: the route skips the guard's read of the user (CallerCheckedByQuery).
   */
  toggle(messageId: string, caller: Caller, emoji: string, add: boolean): Promise<ToggleResult> {
    return this.toggles.submit({ messageId, caller, emoji, add });
  }

  private async toggleBatch(inputs: ToggleInput[]): Promise<ToggleResult[]> {
    const rows: (Omit<ChangedMessage, 'id'> & { item: string; outcome: ToggleOutcome; id: string | null })[] = await this.dataSource.query(
      TOGGLE_BATCH,
      [
        inputs.map((input) => input.messageId),
        inputs.map((input) => input.caller.id),
        inputs.map((input) => input.caller.tokenVersion),
        inputs.map((input) => input.caller.sessionId),
        inputs.map((input) => input.emoji),
        inputs.map((input) => input.add),
        MAX_EMOJI_PER_MESSAGE,
      ],
    );
    const announced = new Set<string>();
    return rows.map(({ outcome, id, conversationId, seq, changeSeq, memberIds }) => {
      if (id === null || announced.has(id)) return { outcome };
      announced.add(id);
      return { outcome, changed: { id, conversationId, seq, changeSeq, memberIds } };
    });
  }

  /** Who reacted to a message with `emoji`, in the order they did, after the `after` key. */
  async reactors(messageId: string, emoji: string, limit: number, after?: { reactedAt: string; userId: string }): Promise<ReactorRow[]> {
    const params: unknown[] = [messageId, emoji, limit];
    let keyset = '';
    if (after) {
      params.push(after.reactedAt, after.userId);
      keyset = `AND (r.created_at, r.user_id) > ($4::timestamptz, $5::bigint)`;
    }
    return this.dataSource.query(
      `SELECT u.id, u.username, u.display_name AS "displayName", u.created_at AS "createdAt",
              -- Full microseconds for the cursor (a JavaScript Date keeps milliseconds).
              r.created_at::text AS "reactedAtKey"
         FROM message_reactions r JOIN users u ON u.id = r.user_id
        WHERE r.message_id = $1 AND r.emoji = $2 ${keyset}
        ORDER BY r.created_at, r.user_id LIMIT $3`,
      params,
    );
  }
}
