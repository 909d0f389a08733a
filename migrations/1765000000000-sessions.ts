import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions: one row per login, and one row per refresh token ever issued to it. A refresh token
 * is used up when it is exchanged (used_at set); keeping the used ones (until the session is
 * swept) is what lets a replay of any earlier token be recognised, not only of the previous
 * one, so a stolen token presented after the owner rotated past it still ends the session.
 * Only SHA-256 hashes of the tokens are stored. Access tokens carry the session id (`sid`), and
 * every check of a caller (the active-users statement, send_messages, the message read, ws
 * tickets) also requires its session not to have ended.
 *
 * Tickets issued before this migration name no session: they are dropped (they live 60 s).
 */
export class Sessions1765000000000 implements MigrationInterface {
  name = 'Sessions1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE sessions (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        -- The user's token_version at login: revoking the user's tokens ends its sessions too.
        token_version integer NOT NULL,
        user_agent    text,
        created_at    timestamptz NOT NULL DEFAULT now(),
        last_used_at  timestamptz NOT NULL DEFAULT now(),
        -- Idle lifetime: moved forward by every refresh.
        expires_at    timestamptz NOT NULL,
        ended_at      timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX sessions_user_id_idx ON sessions (user_id)`);
    await queryRunner.query(`
      CREATE TABLE refresh_tokens (
        token_hash text PRIMARY KEY,
        session_id bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        used_at    timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id)`);
    await queryRunner.query(`DELETE FROM ws_tickets`);
    await queryRunner.query(`ALTER TABLE ws_tickets ADD COLUMN session_id bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE`);
    // A socket opened with a ticket lives no longer than the access token that asked for it.
    await queryRunner.query(`ALTER TABLE ws_tickets ADD COLUMN access_expires_at timestamptz NOT NULL`);
    await queryRunner.query(`DROP FUNCTION send_messages(bigint[], bigint[], integer[], text[], text[])`);
    await queryRunner.query(sendMessagesFunction(true));
    await queryRunner.query(
      `ALTER FUNCTION send_messages(bigint[], bigint[], integer[], bigint[], text[], text[]) SET lock_timeout = '2s'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION send_messages(bigint[], bigint[], integer[], bigint[], text[], text[])`);
    await queryRunner.query(sendMessagesFunction(false));
    await queryRunner.query(`ALTER FUNCTION send_messages(bigint[], bigint[], integer[], text[], text[]) SET lock_timeout = '2s'`);
    await queryRunner.query(`DELETE FROM ws_tickets`);
    await queryRunner.query(`ALTER TABLE ws_tickets DROP COLUMN access_expires_at`);
    await queryRunner.query(`ALTER TABLE ws_tickets DROP COLUMN session_id`);
    await queryRunner.query(`DROP TABLE refresh_tokens`);
    await queryRunner.query(`DROP TABLE sessions`);
  }
}

/**
 * send_messages as the send-messages-function migration explains it; with sessions, it takes
 * each sender's session id and refuses a sender whose session has ended, in the same check as
 * its user's.
 */
export function sendMessagesFunction(withSessions: boolean): string {
  const sessionParam = withSessions ? 'session_ids bigint[], ' : '';
  const sessionArg = withSessions ? 'session_ids, ' : '';
  const sessionColumn = withSessions ? 'session_id, ' : '';
  const sessionCheck = withSessions
    ? `AND EXISTS (SELECT FROM sessions s WHERE s.id = i.session_id AND s.user_id = i.sender_id AND s.ended_at IS NULL)`
    : '';
  return `
    CREATE FUNCTION send_messages(
      conversation_ids bigint[], sender_ids bigint[], token_versions integer[], ${sessionParam}bodies text[], client_message_ids text[]
    ) RETURNS TABLE (
      item bigint, id bigint, conversation_id bigint, seq bigint, change_seq bigint, sender_id bigint, body text,
      client_message_id text, created_at timestamptz, edited_at timestamptz, deleted_at timestamptz, member_ids text[]
    ) LANGUAGE plpgsql VOLATILE AS $$
    #variable_conflict use_column
    BEGIN
      PERFORM FROM conversations c WHERE c.id = ANY (conversation_ids) ORDER BY c.id FOR UPDATE;
      RETURN QUERY
      WITH input AS (
        SELECT * FROM unnest(conversation_ids, sender_ids, token_versions, ${sessionArg}bodies, client_message_ids)
          WITH ORDINALITY AS i (conversation_id, sender_id, token_version, ${sessionColumn}body, client_message_id, item)
      ), accepted AS (
        SELECT i.*, row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.item) AS n
          FROM input i
         WHERE EXISTS (SELECT FROM conversation_members m
                        WHERE m.conversation_id = i.conversation_id AND m.user_id = i.sender_id)
           AND EXISTS (SELECT FROM users u WHERE u.id = i.sender_id AND u.active AND u.token_version = i.token_version)
           ${sessionCheck}
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
    END $$`;
}
