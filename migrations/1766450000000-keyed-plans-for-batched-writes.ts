import type { MigrationInterface, QueryRunner } from 'typeorm';

const SEND_MESSAGES = 'send_messages(bigint[], bigint[], integer[], bigint[], text[], text[], bigint[], text[])';
const TOGGLE_REACTIONS = 'toggle_reactions(bigint[], bigint[], integer[], bigint[], text[], boolean[], integer)';

/**
 * send_messages looks up each reply's target once, by primary key, for the items that answer
 * a message: it joined every item to the messages of its conversation instead, and with
 * statistics older than the table's growth that join was planned as a walk over all of a
 * conversation's messages repeated for each item of the batch.
 *
 * The batched write functions read every table by key (the batch's conversations, senders,
 * sessions, reply targets, client message ids), so a sequential scan is never the right plan
 * for them. The planner picked one anyway when `messages` had grown since its last ANALYZE
 * (a fresh installation filling up, or a burst): the reply-target lookup became a scan of all
 * messages repeated per item, and a batch of 64 sends took seconds, then hit the statement
 * timeout. Turning sequential scans off for these functions alone keeps their plans keyed
 * whatever the statistics say; every other query keeps the planner's own choice.
 */
export class KeyedPlansForBatchedWrites1766450000000 implements MigrationInterface {
  name = 'KeyedPlansForBatchedWrites1766450000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION ${SEND_MESSAGES}`);
    await queryRunner.query(SEND_MESSAGES_KEYED);
    await queryRunner.query(`ALTER FUNCTION ${SEND_MESSAGES} SET lock_timeout = '2s'`);
    await queryRunner.query(`ALTER FUNCTION ${SEND_MESSAGES} SET enable_seqscan = off`);
    await queryRunner.query(`ALTER FUNCTION ${TOGGLE_REACTIONS} SET enable_seqscan = off`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION ${SEND_MESSAGES}`);
    await queryRunner.query(SEND_MESSAGES_JOINED);
    await queryRunner.query(`ALTER FUNCTION ${SEND_MESSAGES} SET lock_timeout = '2s'`);
    await queryRunner.query(`ALTER FUNCTION ${TOGGLE_REACTIONS} RESET enable_seqscan`);
  }
}

/** send_messages of the message-features migration, with the reply targets looked up by key. */
const SEND_MESSAGES_KEYED = `
  CREATE FUNCTION send_messages(
    conversation_ids bigint[], sender_ids bigint[], token_versions integer[], session_ids bigint[], bodies text[],
    client_message_ids text[], reply_to_ids bigint[], mention_lists text[]
  ) RETURNS TABLE (
    item bigint, id bigint, conversation_id bigint, seq bigint, change_seq bigint, sender_id bigint, body text,
    client_message_id text, created_at timestamptz, edited_at timestamptz, deleted_at timestamptz,
    reply_to_id bigint, thread_id bigint, mentioned_user_ids bigint[], member_ids text[]
  ) LANGUAGE plpgsql VOLATILE AS $$
  #variable_conflict use_column
  BEGIN
    PERFORM FROM conversations c WHERE c.id = ANY (conversation_ids) ORDER BY c.id FOR UPDATE;
    RETURN QUERY
    WITH input AS (
      SELECT * FROM unnest(conversation_ids, sender_ids, token_versions, session_ids, bodies, client_message_ids, reply_to_ids, mention_lists)
        WITH ORDINALITY AS i (conversation_id, sender_id, token_version, session_id, body, client_message_id, reply_to_id, mention_names, item)
    ), reply_targets AS MATERIALIZED (
      SELECT i.item, r.root_id
        FROM input i
        CROSS JOIN LATERAL (
          SELECT m.conversation_id, coalesce(m.thread_id, m.id) AS root_id, message_accepts_responses(m) AS accepts
            FROM messages m WHERE m.id = i.reply_to_id
          OFFSET 0) r
       WHERE i.reply_to_id IS NOT NULL AND r.conversation_id = i.conversation_id AND r.accepts
    ), accepted AS (
      SELECT i.*, t.root_id, row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.item) AS n
        FROM input i LEFT JOIN reply_targets t ON t.item = i.item
       WHERE (i.reply_to_id IS NULL OR t.item IS NOT NULL)
         AND EXISTS (SELECT FROM conversation_members m
                      WHERE m.conversation_id = i.conversation_id AND m.user_id = i.sender_id)
         AND EXISTS (SELECT FROM users u WHERE u.id = i.sender_id AND u.active AND u.token_version = i.token_version)
         AND EXISTS (SELECT FROM sessions s WHERE s.id = i.session_id AND s.user_id = i.sender_id AND s.ended_at IS NULL)
         AND (i.client_message_id IS NULL OR (
               NOT EXISTS (SELECT FROM messages m
                            WHERE m.sender_id = i.sender_id AND m.client_message_id = i.client_message_id)
           AND NOT EXISTS (SELECT FROM input earlier
                            WHERE earlier.item < i.item AND earlier.sender_id = i.sender_id
                              AND earlier.client_message_id = i.client_message_id)))
    ), threads AS (
      SELECT a.conversation_id, a.root_id, count(*) AS replies,
             row_number() OVER (PARTITION BY a.conversation_id ORDER BY a.root_id) AS n
        FROM accepted a WHERE a.root_id IS NOT NULL
       GROUP BY a.conversation_id, a.root_id
    ), counters AS (
      UPDATE conversations c
         SET last_seq = c.last_seq + k.messages, last_change_seq = c.last_change_seq + k.messages + k.roots, updated_at = now()
        FROM (SELECT a.conversation_id, count(*) AS messages,
                     (SELECT count(*) FROM threads t WHERE t.conversation_id = a.conversation_id) AS roots
                FROM accepted a GROUP BY a.conversation_id) k
       WHERE c.id = k.conversation_id
      RETURNING c.id, c.last_seq - k.messages AS seq_before, c.last_change_seq - k.messages - k.roots AS change_seq_before,
                k.messages
    ), numbered AS (
      SELECT a.*, c.seq_before + a.n AS seq, c.change_seq_before + a.n AS change_seq,
             CASE WHEN a.mention_names IS NULL THEN '{}'::bigint[]
                  ELSE mentioned_members(a.conversation_id, a.mention_names) END AS mentioned
        FROM accepted a JOIN counters c ON c.id = a.conversation_id
    ), stored AS (
      INSERT INTO messages (conversation_id, seq, change_seq, sender_id, body, client_message_id, reply_to_id, thread_id, mentioned_user_ids)
      SELECT x.conversation_id, x.seq, x.change_seq, x.sender_id, x.body, x.client_message_id, x.reply_to_id, x.root_id, x.mentioned
        FROM numbered x ORDER BY x.item
      RETURNING *
    ), replied AS (
      UPDATE messages root
         SET reply_count = root.reply_count + t.replies, last_reply_at = now(),
             change_seq = c.change_seq_before + c.messages + t.n
        FROM threads t JOIN counters c ON c.id = t.conversation_id
       WHERE root.id = t.root_id
      RETURNING root.id, root.conversation_id, root.seq, root.change_seq
    ), mentions_stored AS (
      INSERT INTO message_mentions (user_id, conversation_id, seq)
      SELECT u.user_id, x.conversation_id, x.seq FROM numbered x CROSS JOIN LATERAL unnest(x.mentioned) AS u (user_id)
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
           s.created_at, s.edited_at, s.deleted_at, s.reply_to_id, s.thread_id, s.mentioned_user_ids, mb.ids
      FROM stored s
      JOIN numbered x ON x.conversation_id = s.conversation_id AND x.seq = s.seq
      JOIN members mb ON mb.conversation_id = s.conversation_id
    UNION ALL
    SELECT NULL::bigint, r.id, r.conversation_id, r.seq, r.change_seq, NULL::bigint, NULL::text, NULL::text,
           NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::bigint, NULL::bigint, NULL::bigint[], mb.ids
      FROM replied r
      JOIN members mb ON mb.conversation_id = r.conversation_id
     ORDER BY 1;
  END $$`;

/** send_messages as the message-features migration left it (for down). */
const SEND_MESSAGES_JOINED = `
  CREATE FUNCTION send_messages(
    conversation_ids bigint[], sender_ids bigint[], token_versions integer[], session_ids bigint[], bodies text[],
    client_message_ids text[], reply_to_ids bigint[], mention_lists text[]
  ) RETURNS TABLE (
    item bigint, id bigint, conversation_id bigint, seq bigint, change_seq bigint, sender_id bigint, body text,
    client_message_id text, created_at timestamptz, edited_at timestamptz, deleted_at timestamptz,
    reply_to_id bigint, thread_id bigint, mentioned_user_ids bigint[], member_ids text[]
  ) LANGUAGE plpgsql VOLATILE AS $$
  #variable_conflict use_column
  BEGIN
    PERFORM FROM conversations c WHERE c.id = ANY (conversation_ids) ORDER BY c.id FOR UPDATE;
    RETURN QUERY
    WITH input AS (
      SELECT * FROM unnest(conversation_ids, sender_ids, token_versions, session_ids, bodies, client_message_ids, reply_to_ids, mention_lists)
        WITH ORDINALITY AS i (conversation_id, sender_id, token_version, session_id, body, client_message_id, reply_to_id, mention_names, item)
    ), reply_targets AS (
      SELECT i.item, coalesce(r.thread_id, r.id) AS root_id
        FROM input i JOIN messages r ON r.id = i.reply_to_id AND r.conversation_id = i.conversation_id
       WHERE message_accepts_responses(r)
    ), accepted AS (
      SELECT i.*, t.root_id, row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.item) AS n
        FROM input i LEFT JOIN reply_targets t ON t.item = i.item
       WHERE (i.reply_to_id IS NULL OR t.item IS NOT NULL)
         AND EXISTS (SELECT FROM conversation_members m
                      WHERE m.conversation_id = i.conversation_id AND m.user_id = i.sender_id)
         AND EXISTS (SELECT FROM users u WHERE u.id = i.sender_id AND u.active AND u.token_version = i.token_version)
         AND EXISTS (SELECT FROM sessions s WHERE s.id = i.session_id AND s.user_id = i.sender_id AND s.ended_at IS NULL)
         AND (i.client_message_id IS NULL OR (
               NOT EXISTS (SELECT FROM messages m
                            WHERE m.sender_id = i.sender_id AND m.client_message_id = i.client_message_id)
           AND NOT EXISTS (SELECT FROM input earlier
                            WHERE earlier.item < i.item AND earlier.sender_id = i.sender_id
                              AND earlier.client_message_id = i.client_message_id)))
    ), threads AS (
      SELECT a.conversation_id, a.root_id, count(*) AS replies,
             row_number() OVER (PARTITION BY a.conversation_id ORDER BY a.root_id) AS n
        FROM accepted a WHERE a.root_id IS NOT NULL
       GROUP BY a.conversation_id, a.root_id
    ), counters AS (
      UPDATE conversations c
         SET last_seq = c.last_seq + k.messages, last_change_seq = c.last_change_seq + k.messages + k.roots, updated_at = now()
        FROM (SELECT a.conversation_id, count(*) AS messages,
                     (SELECT count(*) FROM threads t WHERE t.conversation_id = a.conversation_id) AS roots
                FROM accepted a GROUP BY a.conversation_id) k
       WHERE c.id = k.conversation_id
      RETURNING c.id, c.last_seq - k.messages AS seq_before, c.last_change_seq - k.messages - k.roots AS change_seq_before,
                k.messages
    ), numbered AS (
      SELECT a.*, c.seq_before + a.n AS seq, c.change_seq_before + a.n AS change_seq,
             CASE WHEN a.mention_names IS NULL THEN '{}'::bigint[]
                  ELSE mentioned_members(a.conversation_id, a.mention_names) END AS mentioned
        FROM accepted a JOIN counters c ON c.id = a.conversation_id
    ), stored AS (
      INSERT INTO messages (conversation_id, seq, change_seq, sender_id, body, client_message_id, reply_to_id, thread_id, mentioned_user_ids)
      SELECT x.conversation_id, x.seq, x.change_seq, x.sender_id, x.body, x.client_message_id, x.reply_to_id, x.root_id, x.mentioned
        FROM numbered x ORDER BY x.item
      RETURNING *
    ), replied AS (
      UPDATE messages root
         SET reply_count = root.reply_count + t.replies, last_reply_at = now(),
             change_seq = c.change_seq_before + c.messages + t.n
        FROM threads t JOIN counters c ON c.id = t.conversation_id
       WHERE root.id = t.root_id
      RETURNING root.id, root.conversation_id, root.seq, root.change_seq
    ), mentions_stored AS (
      INSERT INTO message_mentions (user_id, conversation_id, seq)
      SELECT u.user_id, x.conversation_id, x.seq FROM numbered x CROSS JOIN LATERAL unnest(x.mentioned) AS u (user_id)
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
           s.created_at, s.edited_at, s.deleted_at, s.reply_to_id, s.thread_id, s.mentioned_user_ids, mb.ids
      FROM stored s
      JOIN numbered x ON x.conversation_id = s.conversation_id AND x.seq = s.seq
      JOIN members mb ON mb.conversation_id = s.conversation_id
    UNION ALL
    SELECT NULL::bigint, r.id, r.conversation_id, r.seq, r.change_seq, NULL::bigint, NULL::text, NULL::text,
           NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::bigint, NULL::bigint, NULL::bigint[], mb.ids
      FROM replied r
      JOIN members mb ON mb.conversation_id = r.conversation_id
     ORDER BY 1;
  END $$`;
