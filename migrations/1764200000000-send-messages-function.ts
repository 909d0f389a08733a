import type { MigrationInterface, QueryRunner } from 'typeorm';
import { MemberIdsFunction1764100000000 } from './1764100000000-member-ids-function.js';

/**
 * `send_messages(...)`: stores a batch of messages in one statement and one commit. The
 * arrays are parallel, one element per message; each stored message comes back with its
 * 1-based `item` (its place in the arrays) and the members to notify. An item that does not
 * come back was refused: its sender is not a member of the conversation, is not active at the
 * token version given, or has already sent (or sends earlier in this batch) its
 * `client_message_id`.
 *
 * The conversations are locked first, in id order, so batches running side by side (on other
 * connections or other instances) wait for each other instead of deadlocking. The checks and
 * the members are read after the locks, by a statement with a fresh snapshot (a PL/pgSQL
 * function takes one per statement): a membership change committed while the batch waited is
 * seen, since membership changes take the same lock. Each conversation's counters move once
 * by the number of its messages, which take the seqs in item order, with no gaps; any error
 * rolls the whole batch back. Sending marks the conversation read up to the sender's own last
 * message. It replaces the one-message statement and its helper `conversation_member_ids`.
 */
export class SendMessagesFunction1764200000000 implements MigrationInterface {
  name = 'SendMessagesFunction1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION send_messages(
        conversation_ids bigint[], sender_ids bigint[], token_versions integer[], bodies text[], client_message_ids text[]
      ) RETURNS TABLE (
        item bigint, id bigint, conversation_id bigint, seq bigint, change_seq bigint, sender_id bigint, body text,
        client_message_id text, created_at timestamptz, edited_at timestamptz, deleted_at timestamptz, member_ids text[]
      ) LANGUAGE plpgsql VOLATILE AS $$
      #variable_conflict use_column
      BEGIN
        PERFORM FROM conversations c WHERE c.id = ANY (conversation_ids) ORDER BY c.id FOR UPDATE;
        RETURN QUERY
        WITH input AS (
          SELECT * FROM unnest(conversation_ids, sender_ids, token_versions, bodies, client_message_ids)
            WITH ORDINALITY AS i (conversation_id, sender_id, token_version, body, client_message_id, item)
        ), accepted AS (
          SELECT i.*, row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.item) AS n
            FROM input i
           WHERE EXISTS (SELECT FROM conversation_members m
                          WHERE m.conversation_id = i.conversation_id AND m.user_id = i.sender_id)
             AND EXISTS (SELECT FROM users u WHERE u.id = i.sender_id AND u.active AND u.token_version = i.token_version)
             AND (i.client_message_id IS NULL OR (
                   NOT EXISTS (SELECT FROM messages m
                                WHERE m.sender_id = i.sender_id AND m.client_message_id = i.client_message_id)
               AND NOT EXISTS (SELECT FROM input earlier
                                WHERE earlier.item < i.item AND earlier.sender_id = i.sender_id
                                  AND earlier.client_message_id = i.client_message_id)))
        ), counters AS (
          UPDATE conversations c
             SET last_seq = c.last_seq + k.n, last_change_seq = c.last_change_seq + k.n, updated_at = now()
            FROM (SELECT a.conversation_id, count(*) AS n FROM accepted a GROUP BY a.conversation_id) k
           WHERE c.id = k.conversation_id
          RETURNING c.id, c.last_seq - k.n AS seq_before, c.last_change_seq - k.n AS change_seq_before
        ), numbered AS (
          SELECT a.*, c.seq_before + a.n AS seq, c.change_seq_before + a.n AS change_seq
            FROM accepted a JOIN counters c ON c.id = a.conversation_id
        ), stored AS (
          INSERT INTO messages (conversation_id, seq, change_seq, sender_id, body, client_message_id)
          SELECT x.conversation_id, x.seq, x.change_seq, x.sender_id, x.body, x.client_message_id
            FROM numbered x ORDER BY x.item
          RETURNING *
        ), sender_read AS (
          UPDATE conversation_members me SET last_read_seq = r.seq
            FROM (SELECT s.conversation_id, s.sender_id, max(s.seq) AS seq FROM stored s GROUP BY 1, 2) r
           WHERE me.conversation_id = r.conversation_id AND me.user_id = r.sender_id
        ), members AS (
          SELECT m.conversation_id, array_agg(m.user_id::text) AS ids
            FROM conversation_members m
           WHERE m.conversation_id IN (SELECT k.id FROM counters k)
           GROUP BY m.conversation_id
        )
        SELECT x.item, s.id, s.conversation_id, s.seq, s.change_seq, s.sender_id, s.body, s.client_message_id,
               s.created_at, s.edited_at, s.deleted_at, mb.ids
          FROM stored s
          JOIN numbered x ON x.conversation_id = s.conversation_id AND x.seq = s.seq
          JOIN members mb ON mb.conversation_id = s.conversation_id
         ORDER BY x.item;
      END $$`);
    await queryRunner.query(`DROP FUNCTION conversation_member_ids(bigint)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await new MemberIdsFunction1764100000000().up(queryRunner);
    await queryRunner.query(`DROP FUNCTION send_messages(bigint[], bigint[], integer[], text[], text[])`);
  }
}
