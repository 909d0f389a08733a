import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { random } from '../random.js';

/**
 * A large installation, loaded with COPY into a freshly migrated, EMPTY database (issue 32's
 * "data at scale"). At scale 1: 100,000 users; 200,000 conversations, 70 % direct and 30 % groups
 * of 3–500 members (most small, a few large); 10,000,000 messages spread over the conversations
 * with a Zipf skew (the busiest holds about 4 % of them, the quietest a handful), interleaved in
 * time over 30 days as real traffic is, so ids follow time. User `heavy` is in 2,000
 * conversations: 1,000 direct and the 1,000 groups with the most messages, the busiest among
 * them. Bodies are 3–20 words drawn with a Zipf-like skew from a vocabulary of 20,000 whose
 * commonest words are English; `zebra` is in none. Every invariant the service keeps holds:
 * seqs 1..N with no gap, each conversation's counters and updated_at, members' activity.
 *
 * Sizes scale linearly with `scale` (10 makes the 10× set on a bigger machine). Triggers and
 * foreign keys are off while loading (session_replication_role), and the secondary indexes of
 * `messages` are dropped and built again afterwards: the data is made consistent by
 * construction, then checked.
 */
export interface LargeDataset {
  users: number;
  conversations: number;
  messages: number;
  memberships: number;
  heavyUserId: string;
  /** The busiest conversation, which `heavy` is in. */
  busyConversationId: string;
  busyConversationMessages: number;
  /** The newest change seq of the busy conversation a day before the newest message. */
  busyChangeSeqDayAgo: number;
  adminUserId: string;
  loadSeconds: number;
}

const DAY_MS = 86_400_000;
const SPAN_MS = 30 * DAY_MS;
const HEAVY_DIRECTS = 1000;
const HEAVY_GROUPS = 1000;
const COMMON_WORDS =
  'the and to you i a it is that of in for on me we my have be do not with this are was just so but at what can your all if no get up go out know about like how see one there they will time'.split(' ');
const VOCABULARY = 20_000;

const words = Array.from({ length: VOCABULARY }, (_, rank) =>
  rank < COMMON_WORDS.length ? COMMON_WORDS[rank] : `w${((rank * 2654435761) >>> 0).toString(16).padStart(8, '0').slice(0, 6)}`,
);

export async function loadLargeDataset(url: string, scale: number, log: (line: string) => void): Promise<LargeDataset> {
  const started = performance.now();
  const rand = random(32);
  const userCount = Math.max(HEAVY_DIRECTS + 100, Math.round(100_000 * scale));
  const conversationCount = Math.max(HEAVY_DIRECTS + HEAVY_GROUPS + 100, Math.round(200_000 * scale));
  const messageCount = Math.round(10_000_000 * scale);
  const groupCount = Math.max(HEAVY_GROUPS + 10, Math.round(conversationCount * 0.3));
  const directCount = conversationCount - groupCount;
  const end = Date.now() - 60_000;
  const start = end - SPAN_MS;

  // Ids: users 1..U (1 is heavy, 2 the admin); conversations: the groups 1..G, then the directs.
  const HEAVY = 1;
  const ADMIN = 2;
  const memberStart = new Int32Array(conversationCount + 2);
  const memberList: number[] = [];
  const directKeys = new Set<string>();
  for (let c = 1; c <= conversationCount; c++) {
    memberStart[c] = memberList.length;
    if (c <= groupCount) {
      const size = 3 + Math.floor(497 * rand() ** 8);
      const members = new Set<number>();
      // The first HEAVY_GROUPS groups get the most messages (below): heavy is in them.
      if (c <= HEAVY_GROUPS) members.add(HEAVY);
      while (members.size < size) members.add(3 + Math.floor(rand() * (userCount - 2)));
      memberList.push(...members);
    } else {
      const d = c - groupCount;
      let a: number;
      let b: number;
      if (d <= HEAVY_DIRECTS) [a, b] = [HEAVY, 2 + d];
      else {
        do {
          a = 3 + Math.floor(rand() * (userCount - 2));
          b = 3 + Math.floor(rand() * (userCount - 2));
        } while (a === b || directKeys.has(`${Math.min(a, b)}:${Math.max(a, b)}`));
      }
      directKeys.add(`${Math.min(a, b)}:${Math.max(a, b)}`);
      memberList.push(a, b);
    }
  }
  memberStart[conversationCount + 1] = memberList.length;
  const members = Int32Array.from(memberList);

  // Messages per conversation by rank, Zipf with s = 0.9; the ranks are the groups heavy is in
  // first (the busiest is group 1), then the rest in a random order.
  const rankOf = new Int32Array(conversationCount + 1);
  const rest = Array.from({ length: conversationCount - HEAVY_GROUPS }, (_, i) => HEAVY_GROUPS + 1 + i);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  const byRank = [...Array.from({ length: HEAVY_GROUPS }, (_, i) => i + 1), ...rest];
  byRank.forEach((c, rank) => (rankOf[c] = rank));
  const cumulative = new Float64Array(conversationCount);
  let total = 0;
  for (let rank = 0; rank < conversationCount; rank++) cumulative[rank] = total += 1 / (rank + 1) ** 0.9;
  const pickRank = (r: number) => {
    const target = r * total;
    let lo = 0;
    let hi = conversationCount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const existing = await client.query(`SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM messages) AS n`);
    if (Number(existing.rows[0].n) > 0) throw new Error('the large data set loads into an empty database only');
    await client.query(`SET session_replication_role = replica`);
    await client.query(`SET maintenance_work_mem = '1GB'`);
    await client.query(`SET synchronous_commit = off`);
    const copy = async (table: string, columns: string, rows: (write: (line: string) => Promise<void>) => Promise<void>) => {
      const t0 = performance.now();
      const stream = client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`));
      let buffer = '';
      const write = async (line: string) => {
        buffer += line;
        if (buffer.length < 1 << 20) return;
        const chunk = buffer;
        buffer = '';
        if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', resolve));
      };
      await rows(write);
      await pipeline(
        (async function* () {
          yield buffer;
        })(),
        stream as unknown as Writable,
      );
      log(`  ${table}: copied in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    };
    const at = (ms: number) => new Date(ms).toISOString();

    await copy('users', 'id, username, display_name, password_hash, role, created_at', async (write) => {
      for (let u = 1; u <= userCount; u++) {
        const name = u === HEAVY ? 'heavy' : u === ADMIN ? 'large_admin' : `user_${u}`;
        await write(`${u}\t${name}\tUser ${u}\t!bench-no-login\t${u === ADMIN ? 'admin' : 'user'}\t${at(start - DAY_MS)}\n`);
      }
    });

    // Its secondary indexes are built once at the end: faster than kept up row by row.
    const { rows: dropped } = await client.query<{ name: string; definition: string }>(
      `SELECT i.indexname AS name, i.indexdef AS definition FROM pg_indexes i
        WHERE i.tablename = 'messages'
          AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = (quote_ident(i.indexname))::regclass)`,
    );
    for (const index of dropped) await client.query(`DROP INDEX ${index.name}`);

    // The messages, in time order, with each conversation's seq; the counters follow from them.
    const lastSeq = new Int32Array(conversationCount + 1);
    const lastAt = new Float64Array(conversationCount + 1);
    let busyDayAgo = 0;
    const dayAgo = end - DAY_MS;
    const step = SPAN_MS / Math.max(1, messageCount);
    await copy('messages', 'id, conversation_id, seq, change_seq, sender_id, body, created_at', async (write) => {
      for (let id = 1; id <= messageCount; id++) {
        const c = byRank[pickRank(rand())];
        const seq = ++lastSeq[c];
        const time = start + (id - 1) * step;
        lastAt[c] = time;
        if (c === 1 && time <= dayAgo) busyDayAgo = seq;
        const from = memberStart[c];
        const sender = members[from + Math.floor(rand() * (memberStart[c + 1] - from))];
        const count = 3 + Math.floor(rand() * 18);
        let body = words[Math.floor(Math.exp(rand() * Math.log(VOCABULARY)))] ?? words[0];
        for (let w = 1; w < count; w++) body += ` ${words[Math.floor(Math.exp(rand() * Math.log(VOCABULARY)))] ?? words[0]}`;
        await write(`${id}\t${c}\t${seq}\t${seq}\t${sender}\t${body}\t${at(time)}\n`);
      }
    });

    await copy(
      'conversations',
      'id, type, title, owner_id, direct_key, last_seq, last_change_seq, created_at, updated_at, members_activity_at',
      async (write) => {
        for (let c = 1; c <= conversationCount; c++) {
          const group = c <= groupCount;
          const createdAt = at(start - DAY_MS + rankOf[c]);
          const updatedAt = lastSeq[c] > 0 ? at(lastAt[c]) : createdAt;
          const [a, b] = [members[memberStart[c]], members[memberStart[c] + 1]];
          const type = group ? 'group\tGroup ' + c + '\t' + members[memberStart[c]] + '\t\\N' : `direct\t\\N\t\\N\t${Math.min(a, b)}:${Math.max(a, b)}`;
          await write(`${c}\t${type}\t${lastSeq[c]}\t${lastSeq[c]}\t${createdAt}\t${updatedAt}\t${updatedAt}\n`);
        }
      },
    );

    await copy('conversation_members', 'conversation_id, user_id, last_read_seq, joined_at, activity_at', async (write) => {
      for (let c = 1; c <= conversationCount; c++) {
        const updatedAt = lastSeq[c] > 0 ? at(lastAt[c]) : at(start - DAY_MS + rankOf[c]);
        for (let i = memberStart[c]; i < memberStart[c + 1]; i++) {
          // Most have read everything; some are behind by a few messages.
          const behind = rand() < 0.2 ? Math.min(lastSeq[c], 1 + Math.floor(rand() * 20)) : 0;
          await write(`${c}\t${members[i]}\t${lastSeq[c] - behind}\t${at(start - DAY_MS)}\t${updatedAt}\n`);
        }
      }
    });

    log(`  building ${dropped.length} indexes of messages again…`);
    const t0 = performance.now();
    for (const index of dropped) await client.query(index.definition);
    for (const table of ['users', 'conversations', 'messages']) {
      await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`);
    }
    await client.query(`RESET session_replication_role`);
    await client.query(`VACUUM ANALYZE users, conversations, conversation_members, messages`);
    log(`  indexed, vacuumed and analyzed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const facts = await client.query(
      `SELECT (SELECT count(*) FROM conversation_members WHERE user_id = $1)::int AS heavy_conversations,
              (SELECT count(*) FROM messages WHERE conversation_id = 1)::int AS busy_messages,
              (SELECT count(*) FROM conversation_members)::int AS memberships,
              (SELECT count(*) FROM conversations c
                 LEFT JOIN (SELECT conversation_id, count(*) AS n, max(seq) AS top FROM messages GROUP BY 1) m ON m.conversation_id = c.id
                WHERE c.last_seq <> coalesce(m.top, 0) OR coalesce(m.n, 0) <> coalesce(m.top, 0))::int AS wrong_counters`,
      [HEAVY],
    );
    const row = facts.rows[0];
    if (row.heavy_conversations !== HEAVY_DIRECTS + HEAVY_GROUPS) throw new Error(`heavy is in ${row.heavy_conversations} conversations`);
    // With the unique (conversation_id, seq) key, count = max = last_seq means seqs 1..N with no gap.
    if (row.wrong_counters !== 0) throw new Error(`${row.wrong_counters} conversations' seqs have gaps or do not match last_seq`);
    return {
      users: userCount,
      conversations: conversationCount,
      messages: messageCount,
      memberships: row.memberships,
      heavyUserId: String(HEAVY),
      busyConversationId: '1',
      busyConversationMessages: row.busy_messages,
      busyChangeSeqDayAgo: busyDayAgo,
      adminUserId: String(ADMIN),
      loadSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await client.end();
  }
}
