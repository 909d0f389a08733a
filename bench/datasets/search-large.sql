-- A large synthetic data set for looking at the message search's plans (docs/architecture.md,
-- "Searching messages"). Run it on a freshly migrated, EMPTY database of its own, never on one
-- that matters:
--
--   createdb parley_search && DATABASE_URL=postgres://…/parley_search npm run migration:run
--   psql -d parley_search -v messages=5000000 -f bench/datasets/search-large.sql
--
-- 20,000 users; 60,000 direct conversations and 2,000 groups of 3–40 members; `messages`
-- messages (default 5,000,000), 40 % in groups, 60 % in direct conversations, spread over the
-- conversations and interleaved in time as real traffic is. User 1 (`heavy`) is in 300 of them
-- (200 direct, 100 groups): about a hundred thousand messages it may search, among millions it
-- may not. Bodies are 3–20 words drawn with a Zipf-like skew from a vocabulary of 20,000, whose
-- commonest words are English ("the" is in about half the messages); a word like "zebra" is in
-- none. 20–25 minutes on 2 cores for 5 million.
\if :{?messages}
\else
  \set messages 5000000
\endif
\set ON_ERROR_STOP on
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;

INSERT INTO users (username, display_name, password_hash)
SELECT CASE i WHEN 1 THEN 'heavy' ELSE 'user_' || i END, 'User ' || i, 'not-a-hash'
  FROM generate_series(1, 20000) AS i;

-- The word of each rank: the commonest are English, the rest made-up words (`w` and 6 hex digits).
CREATE FUNCTION pg_temp.word(rank int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((string_to_array('the and to you i a it is that of in for on me we my have be do not with this are was just so but at what can your all if no get up go out know about like how see one there they will time', ' '))[rank],
                  'w' || substr(md5(rank::text), 1, 6))
$$;

-- Direct conversations: user 1 with users 2..201, then 59,800 random pairs.
INSERT INTO conversations (type, direct_key)
SELECT 'direct', least(a, b) || ':' || greatest(a, b)
  FROM (SELECT (SELECT min(id) FROM users) AS a, (SELECT min(id) FROM users) + i AS b FROM generate_series(1, 200) AS i
        UNION ALL
        SELECT (SELECT min(id) FROM users) + 201 + floor(random() * 19799)::int,
               (SELECT min(id) FROM users) + 201 + floor(random() * 19799)::int
          FROM generate_series(1, 62000)) AS pairs (a, b)
 WHERE a <> b
ON CONFLICT (direct_key) DO NOTHING;
DELETE FROM conversations WHERE id IN (SELECT id FROM conversations WHERE type = 'direct' ORDER BY id OFFSET 60000);
INSERT INTO conversation_members (conversation_id, user_id)
SELECT c.id, split_part(c.direct_key, ':', n)::bigint FROM conversations c, generate_series(1, 2) AS n WHERE c.type = 'direct';

-- Groups: user 1 owns the first 100.
INSERT INTO conversations (type, title, owner_id)
SELECT 'group', 'Group ' || i, (SELECT min(id) FROM users) + CASE WHEN i <= 100 THEN 0 ELSE 1 + floor(random() * 19999)::int END
  FROM generate_series(1, 2000) AS i;
INSERT INTO conversation_members (conversation_id, user_id)
SELECT c.id, c.owner_id FROM conversations c WHERE c.type = 'group';
INSERT INTO conversation_members (conversation_id, user_id)
SELECT c.id, (SELECT min(id) FROM users) + 1 + floor(random() * 19999)::int
  FROM conversations c, LATERAL generate_series(1, 2 + (c.id % 38)::int) AS n
 WHERE c.type = 'group'
ON CONFLICT DO NOTHING;

CREATE TEMP TABLE conversation_pick AS
SELECT row_number() OVER (PARTITION BY c.type ORDER BY c.id) AS n, c.id, c.type,
       array_agg(cm.user_id ORDER BY cm.user_id) AS members
  FROM conversations c JOIN conversation_members cm ON cm.conversation_id = c.id
 GROUP BY c.id;
CREATE INDEX ON conversation_pick (type, n);
ANALYZE conversation_pick;

-- Loaded without the secondary indexes, which are built again afterwards (as the migrations define them).
DROP INDEX messages_member_search_idx, messages_created_at_idx, messages_sender_id_idx;

CREATE TEMP TABLE generated AS
SELECT i, p.id AS conversation_id, p.members[1 + floor(random() * cardinality(p.members))::int] AS sender_id,
       3 + floor(random() * 18)::int AS words
  FROM generate_series(1, :messages) AS i
  JOIN LATERAL (SELECT CASE WHEN random() < 0.4 THEN 'group' ELSE 'direct' END AS type,
                       random() AS r, i AS keep) AS choice ON true
  JOIN conversation_pick p
    ON p.type = choice.type
   AND p.n = 1 + floor(choice.r * CASE choice.type WHEN 'group' THEN 2000 ELSE 60000 END)::int;

INSERT INTO messages (conversation_id, seq, change_seq, sender_id, body, created_at)
SELECT g.conversation_id,
       row_number() OVER (PARTITION BY g.conversation_id ORDER BY g.i),
       row_number() OVER (PARTITION BY g.conversation_id ORDER BY g.i),
       g.sender_id,
       (SELECT string_agg(pg_temp.word(least(20000, floor(exp(random() * ln(20000)))::int + k * 0)), ' ')
          FROM generate_series(1, g.words) AS k),
       now() - (:messages - g.i) * interval '1 second'
  FROM generated g
 ORDER BY g.i;

UPDATE conversations c
   SET last_seq = m.n, last_change_seq = m.n, updated_at = m.last_at
  FROM (SELECT conversation_id, count(*) AS n, max(created_at) AS last_at FROM messages GROUP BY conversation_id) m
 WHERE c.id = m.conversation_id;

CREATE INDEX messages_member_search_idx ON messages USING gin ((ARRAY[conversation_id]), search_vector);
CREATE INDEX messages_sender_id_idx ON messages (sender_id, id);
CREATE INDEX messages_created_at_idx ON messages (created_at);
-- Loaded, not sent: no instance is to announce these messages (the fan-out outbox's relay would).
TRUNCATE fanout_outbox;
VACUUM ANALYZE;
