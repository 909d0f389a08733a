import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Batcher, inInputOrder } from '../common/batcher.js';

interface AudienceQuery {
  userId: string;
  whateverTheSetting: boolean;
}

/** A user the caller may see the presence of, with what the database knows of it. */
export interface VisibleUser {
  userId: string;
  sharePresence: boolean;
  lastSeenAt: Date | null;
}

/**
 * Each user's audience: the members of each of its conversations, read by the conversation's key
 * whatever the planner knows (OFFSET 0 keeps the subquery apart). On tables without statistics
 * yet (a new database's first minute) the plain self-join scanned every membership once per user,
 * which under a steady churn of connections was most of what PostgreSQL did.
 */
export const AUDIENCES = `SELECT input.item, ARRAY(
         SELECT DISTINCT other.user_id::text
           FROM conversation_members mine
          CROSS JOIN LATERAL (SELECT user_id FROM conversation_members WHERE conversation_id = mine.conversation_id OFFSET 0) other
          WHERE mine.user_id = input.user_id AND other.user_id <> input.user_id) AS audience
  FROM unnest($1::bigint[], $2::boolean[]) WITH ORDINALITY AS input (user_id, whatever, item)
  JOIN users u ON u.id = input.user_id
 WHERE input.whatever OR u.share_presence`;

/**
 * Presence's reads. Who shares a conversation with whom is one statement on
 * `conversation_members` (joined to itself) with the users' `share_presence`, so that an
 * announcement costs one query however many conversations the user is in (and, when many users
 * come and go at once, one query serves many of them); it stays whole here rather than becoming
 * a read of users and another of members.
 */
@Injectable()
export class PresenceRepository {
  private readonly audiences = new Batcher((queries: AudienceQuery[]) => this.audiencesOf(queries), {
    maxInFlight: 1,
    maxBatch: 256,
    // A read changes nothing: a failed batch's users may be read again alone.
    canRetryAlone: () => true,
  });

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Everyone who shares a conversation with `userId`, itself left out; none when the user does
   * not share its presence, unless `whateverTheSetting`.
   */
  audienceOf(userId: string, whateverTheSetting = false): Promise<string[]> {
    return this.audiences.submit({ userId, whateverTheSetting });
  }

  private async audiencesOf(queries: AudienceQuery[]): Promise<string[][]> {
    const rows: { item: string; audience: string[] }[] = await this.dataSource.query(AUDIENCES, [
      queries.map((query) => query.userId),
      queries.map((query) => query.whateverTheSetting),
    ]);
    return inInputOrder(rows, queries.length).map((row) => row?.audience ?? []);
  }

  /** Those of `userIds` who share a conversation with `callerId`, and the caller itself if named. */
  async visibleTo(callerId: string, userIds: readonly string[]): Promise<VisibleUser[]> {
    return this.dataSource.query(
      `SELECT u.id::text AS "userId", u.share_presence AS "sharePresence", u.last_seen_at AS "lastSeenAt"
         FROM users u
        WHERE u.id = ANY($2::bigint[])
          AND (u.id = $1 OR EXISTS (
                SELECT 1 FROM conversation_members mine
                  JOIN conversation_members theirs ON theirs.conversation_id = mine.conversation_id
                 WHERE mine.user_id = $1 AND theirs.user_id = u.id))`,
      [callerId, userIds],
    );
  }
}
