import type { MigrationInterface, QueryRunner } from 'typeorm';
import { sendMessagesFunction as sendMessagesWithSessions } from './1765000000000-sessions.js';

/**
 * Reactions, replies and threads, pins and mentions (API-next section B).
 *
 * On `messages`:
 * - `reply_to_id` (the message answered) and `thread_id` (the thread's root: the answered
 *   message's own `thread_id`, or its id); `reply_count` and `last_reply_at`, moved on the root
 *   by the send that stores a reply, under the conversation's lock, so they are exact however
 *   many replies arrive at once. `messages_thread_idx` reads a thread in seq order.
 * - `reactions`: the counts, `[[emoji, count], …]` in the order each emoji was first added,
 *   kept by `toggle_reactions` beside the rows of `message_reactions` (one per user and emoji).
 *   A message is read far more often than it is reacted to, and every reaction rewrites the
 *   message's row anyway (its `change_seq` moves), so keeping the counts in that row costs a
 *   reaction nothing more and spares every read a count.
 * - `mentioned_user_ids`: the members named as `@username` in the body.
 * - `pinned_at`, `pinned_by`; `messages_pinned_idx` lists and counts a conversation's pins.
 *
 * Mentions: `message_mentions` holds one row per (user, conversation, seq) mentioned, kept
 * with the message (sent, edited, deleted). A member's unread mentions are its rows past its
 * read marker: the conversation's `mentionCount` is counted on this table's primary key, over
 * those rows only, never over messages, and is exact whatever moves the marker (a read, a send,
 * anything later) with no counter to keep in step.
 *
 * `message_accepts_responses(message)` says whether a message may be replied to and reacted
 * to. Every message may until there are system messages; redefining this one function is all
 * it takes to refuse them.
 *
 * Existing messages get no mentions (bodies sent before are not parsed again).
 */
export class MessageFeatures1766000000000 implements MigrationInterface {
  name = 'MessageFeatures1766000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE messages
        ADD COLUMN reply_to_id bigint REFERENCES messages (id),
        ADD COLUMN thread_id bigint,
        ADD COLUMN reply_count integer NOT NULL DEFAULT 0,
        ADD COLUMN last_reply_at timestamptz,
        ADD COLUMN mentioned_user_ids bigint[] NOT NULL DEFAULT '{}',
        ADD COLUMN reactions jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN pinned_at timestamptz,
        ADD COLUMN pinned_by bigint REFERENCES users (id)`);
    await queryRunner.query(`CREATE INDEX messages_thread_idx ON messages (thread_id, seq) WHERE thread_id IS NOT NULL`);
    await queryRunner.query(
      `CREATE INDEX messages_pinned_idx ON messages (conversation_id, pinned_at DESC, id DESC) WHERE pinned_at IS NOT NULL`,
    );

    await queryRunner.query(`
      CREATE TABLE message_reactions (
        message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        user_id    bigint NOT NULL REFERENCES users (id),
        emoji      text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        -- The caller's own reactions to a message (\`reacted\`) are a prefix of this key.
        PRIMARY KEY (message_id, user_id, emoji)
      )`);
    // Who reacted with an emoji, in the order they did (GET …/reactions/:emoji).
    await queryRunner.query(`CREATE INDEX message_reactions_emoji_idx ON message_reactions (message_id, emoji, created_at, user_id)`);

    await queryRunner.query(`
      CREATE TABLE message_mentions (
        user_id         bigint NOT NULL REFERENCES users (id),
        conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        seq             bigint NOT NULL,
        -- A member's mentions in a conversation by seq: those past its read marker are unread,
        -- counted on this key (mentionCount).
        PRIMARY KEY (user_id, conversation_id, seq)
      )`);

    await queryRunner.query(`
      CREATE FUNCTION message_accepts_responses(message messages) RETURNS boolean
        LANGUAGE sql IMMUTABLE AS $$ SELECT true $$`);
    await queryRunner.query(MENTIONED_MEMBERS);
    await queryRunner.query(TOGGLE_REACTIONS);
    await queryRunner.query(`ALTER FUNCTION toggle_reactions(bigint[], bigint[], integer[], bigint[], text[], boolean[], integer) SET lock_timeout = '2s'`);

    await queryRunner.query(`DROP FUNCTION send_messages(bigint[], bigint[], integer[], bigint[], text[], text[])`);
    await queryRunner.query(SEND_MESSAGES);
    await queryRunner.query(`ALTER FUNCTION send_messages(${SEND_MESSAGES_ARGS}) SET lock_timeout = '2s'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION send_messages(${SEND_MESSAGES_ARGS})`);
    await queryRunner.query(sendMessagesWithSessions(true));
    await queryRunner.query(
      `ALTER FUNCTION send_messages(bigint[], bigint[], integer[], bigint[], text[], text[]) SET lock_timeout = '2s'`,
    );
    await queryRunner.query(`DROP FUNCTION toggle_reactions(bigint[], bigint[], integer[], bigint[], text[], boolean[], integer)`);
    await queryRunner.query(`DROP FUNCTION mentioned_members(bigint, text)`);
    await queryRunner.query(`DROP FUNCTION message_accepts_responses(messages)`);
    await queryRunner.query(`DROP TABLE message_mentions`);
    await queryRunner.query(`DROP TABLE message_reactions`);
    await queryRunner.query(`DROP INDEX messages_pinned_idx`);
    await queryRunner.query(`DROP INDEX messages_thread_idx`);
    await queryRunner.query(`
      ALTER TABLE messages
        DROP COLUMN reply_to_id, DROP COLUMN thread_id, DROP COLUMN reply_count, DROP COLUMN last_reply_at,
        DROP COLUMN mentioned_user_ids, DROP COLUMN reactions, DROP COLUMN pinned_at, DROP COLUMN pinned_by`);
  }
}

/**
 * The members of a conversation that a body names: `names` is the body's `@username` tokens,
 * lower-cased and separated by spaces (src/messages/mentions.ts finds them). A token may end in
 * punctuation that belongs to the sentence ("@bob."), and a username may end in a dot or a
 * hyphen too, so each token names the longest of itself and itself without them that is a
 * member. Only members count.
 */
const MENTIONED_MEMBERS = `
  CREATE FUNCTION mentioned_members(conversation bigint, names text) RETURNS bigint[]
    LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT named.user_id ORDER BY named.user_id), '{}')
      FROM (SELECT DISTINCT ON (t.token) u.id AS user_id
              FROM unnest(string_to_array(names, ' ')) AS t (token)
              JOIN users u ON u.username IN (t.token, rtrim(t.token, '.-'))
              JOIN conversation_members cm ON cm.conversation_id = conversation AND cm.user_id = u.id
             ORDER BY t.token, length(u.username) DESC) named
  $$`;

/**
 * `toggle_reactions(...)`: a batch of reactions added and removed, in one statement and one
 * commit, as send_messages stores a batch of messages. One row comes back per item with its
 * outcome: `ok` (done, or already so), `unauthorized` (the user is not active at the token
 * version given, or its session has ended: the caller check of CallerCheckedByQuery, as in
 * send_messages), `not_found` (no such message, or the user is not a member of its conversation), `deleted` (adding to a deleted message), `not_reactable` (see
 * message_accepts_responses) or `too_many` (a new emoji past `emoji_limit` distinct ones), and,
 * when the item's message changed, that message's new change seq and its members.
 *
 * The conversations are locked first, in id order, and everything is read after the locks
 * with a fresh snapshot, so toggles of one message (from any instance) apply one batch after
 * another and the counts stay exact. Within a batch the last toggle of each (message, user,
 * emoji) decides. A changed message moves the conversation's change counter once per batch,
 * however many of its reactions changed, so a hot message costs its members one frame per
 * batch, not one per reaction. Places for new emoji go in item order against the emoji on
 * the message before the batch (one removed in the same batch frees its place only for the
 * next batch).
 */
const TOGGLE_REACTIONS = `
  CREATE FUNCTION toggle_reactions(
    message_ids bigint[], user_ids bigint[], token_versions integer[], session_ids bigint[], emojis text[], adding boolean[],
    emoji_limit integer
  ) RETURNS TABLE (
    item bigint, outcome text, id bigint, conversation_id bigint, seq bigint, change_seq bigint, member_ids text[]
  ) LANGUAGE plpgsql VOLATILE AS $$
  #variable_conflict use_column
  BEGIN
    PERFORM FROM conversations c
     WHERE c.id IN (SELECT m.conversation_id FROM messages m WHERE m.id = ANY (message_ids))
     ORDER BY c.id FOR UPDATE;
    RETURN QUERY
    WITH input AS (
      SELECT * FROM unnest(message_ids, user_ids, token_versions, session_ids, emojis, adding)
        WITH ORDINALITY AS i (message_id, user_id, token_version, session_id, emoji, is_add, item)
    ), checked AS (
      SELECT i.*, m.conversation_id,
             CASE WHEN NOT EXISTS (SELECT FROM users u WHERE u.id = i.user_id AND u.active AND u.token_version = i.token_version)
                    OR NOT EXISTS (SELECT FROM sessions s WHERE s.id = i.session_id AND s.user_id = i.user_id AND s.ended_at IS NULL)
                    THEN 'unauthorized'
                  WHEN m.id IS NULL OR NOT EXISTS (
                         SELECT FROM conversation_members cm
                          WHERE cm.conversation_id = m.conversation_id AND cm.user_id = i.user_id) THEN 'not_found'
                  WHEN NOT message_accepts_responses(m) THEN 'not_reactable'
                  WHEN m.deleted_at IS NOT NULL THEN CASE WHEN i.is_add THEN 'deleted' ELSE 'ok' END
                  ELSE 'ok' END AS status,
             jsonb_array_length(m.reactions) AS emoji_count,
             coalesce(m.reactions @> jsonb_build_array(jsonb_build_array(i.emoji)), false) AS present
        FROM input i LEFT JOIN messages m ON m.id = i.message_id
    ), final AS (
      SELECT DISTINCT ON (c.message_id, c.user_id, c.emoji) c.*
        FROM checked c WHERE c.status = 'ok'
       ORDER BY c.message_id, c.user_id, c.emoji, c.item DESC
    ), new_emoji AS (
      SELECT g.message_id, g.emoji,
             g.emoji_count + row_number() OVER (PARTITION BY g.message_id ORDER BY g.first_item) <= emoji_limit AS fits
        FROM (SELECT f.message_id, f.emoji, min(f.emoji_count) AS emoji_count, min(f.item) AS first_item
                FROM final f WHERE f.is_add AND NOT f.present
               GROUP BY f.message_id, f.emoji) g
    ), applied AS (
      SELECT f.* FROM final f
        LEFT JOIN new_emoji n ON n.message_id = f.message_id AND n.emoji = f.emoji
       WHERE NOT f.is_add OR f.present OR n.fits
    ), added AS (
      INSERT INTO message_reactions (message_id, user_id, emoji)
      SELECT a.message_id, a.user_id, a.emoji FROM applied a WHERE a.is_add
      ON CONFLICT DO NOTHING
      RETURNING message_id, emoji
    ), removed AS (
      DELETE FROM message_reactions r USING applied a
       WHERE NOT a.is_add AND r.message_id = a.message_id AND r.user_id = a.user_id AND r.emoji = a.emoji
      RETURNING r.message_id, r.emoji
    ), deltas AS (
      SELECT d.message_id, d.emoji, sum(d.delta)::int AS delta,
             (SELECT min(f.item) FROM final f WHERE f.message_id = d.message_id AND f.emoji = d.emoji) AS first_item
        FROM (SELECT a.message_id, a.emoji, 1 AS delta FROM added a
              UNION ALL
              SELECT r.message_id, r.emoji, -1 FROM removed r) d
       GROUP BY d.message_id, d.emoji
    ), changed AS (
      SELECT m.id AS message_id, m.conversation_id,
             row_number() OVER (PARTITION BY m.conversation_id ORDER BY m.id) AS n
        FROM messages m WHERE m.id IN (SELECT d.message_id FROM deltas d)
    ), counters AS (
      UPDATE conversations c SET last_change_seq = c.last_change_seq + k.n
        FROM (SELECT ch.conversation_id, count(*) AS n FROM changed ch GROUP BY ch.conversation_id) k
       WHERE c.id = k.conversation_id
      RETURNING c.id, c.last_change_seq - k.n AS change_seq_before
    ), updated AS (
      UPDATE messages m
         SET change_seq = k.change_seq_before + ch.n,
             reactions = (
               SELECT coalesce(jsonb_agg(jsonb_build_array(s.emoji, s.count) ORDER BY s.place), '[]'::jsonb)
                 FROM (SELECT e.emoji, sum(e.count)::int AS count, min(e.place) AS place
                         FROM (SELECT r.x ->> 0 AS emoji, (r.x ->> 1)::int AS count, r.place
                                 FROM jsonb_array_elements(m.reactions) WITH ORDINALITY AS r (x, place)
                               UNION ALL
                               SELECT d.emoji, d.delta, 1000000 + d.first_item FROM deltas d WHERE d.message_id = m.id) e
                        GROUP BY e.emoji HAVING sum(e.count) > 0) s)
        FROM changed ch JOIN counters k ON k.id = ch.conversation_id
       WHERE m.id = ch.message_id
      RETURNING m.id, m.conversation_id, m.seq, m.change_seq
    ), members AS (
      SELECT cm.conversation_id, array_agg(cm.user_id::text) AS ids
        FROM conversation_members cm
       WHERE cm.conversation_id IN (SELECT k.id FROM counters k)
       GROUP BY cm.conversation_id
    )
    SELECT c.item,
           CASE WHEN c.status <> 'ok' THEN c.status
                WHEN c.is_add AND f.is_add AND a.message_id IS NULL THEN 'too_many'
                ELSE 'ok' END,
           u.id, u.conversation_id, u.seq, u.change_seq, mb.ids
      FROM checked c
      LEFT JOIN final f ON f.message_id = c.message_id AND f.user_id = c.user_id AND f.emoji = c.emoji
      LEFT JOIN applied a ON a.message_id = c.message_id AND a.user_id = c.user_id AND a.emoji = c.emoji
      LEFT JOIN updated u ON u.id = c.message_id
      LEFT JOIN members mb ON mb.conversation_id = u.conversation_id
     ORDER BY c.item;
  END $$`;

const SEND_MESSAGES_ARGS = 'bigint[], bigint[], integer[], bigint[], text[], text[], bigint[], text[]';

/**
 * send_messages as the send-messages-function and sessions migrations explain it, with
 * replies and mentions in the same statement:
 *
 * - `reply_to_ids`: a send whose message to answer is not a message of the same conversation
 *   (or does not accept responses) is refused like one from a non-member; the service tells
 *   the two apart. A deleted message may be answered. Each thread root answered in the batch
 *   moves once: its reply count by its number of replies, its last reply time, and its change
 *   seq, numbered after the batch's messages; it comes back as a row with no item, so that
 *   its members hear of it (message.updated).
 * - `mention_lists`: each body's `@username` tokens (or NULL); the members they name are
 *   stored on the message and in message_mentions.
 */
const SEND_MESSAGES = `
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
