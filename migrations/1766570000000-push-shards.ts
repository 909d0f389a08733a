import type { MigrationInterface, QueryRunner } from 'typeorm';
import { enqueuePushes } from './1766560000000-push-leases.js';

/**
 * Pushes in two lanes, as webhooks are (see the webhook-shards migration).
 *
 * - The shard lane: subscriptions are spread over 16 shards (`push_shard`), and a message wakes
 *   the job of each shard it pushes to (`push-shard:<n>`, one queue each). A run takes the
 *   waiting pushes of many subscriptions of its shard in one statement, which leases them, and
 *   records what it sent, letting the leases go, in one. A job per subscription, woken by every
 *   message, cost each push a job added, fetched and completed, and the senders four fifths of
 *   their throughput in the bench (bench/HISTORY.md, 2026-12-07 18:22).
 * - The retry lane: a subscription whose push failed (`failures_in_a_row > 0`, within the retry
 *   window) is passed over by its shard and worked by its own job (`push:<id>`, with backoff,
 *   under the lease of the push-leases migration) until a push succeeds.
 */
export class PushShards1766570000000 implements MigrationInterface {
  name = 'PushShards1766570000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE FUNCTION push_shard(subscription_id bigint) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT ($1 % 16)::int'`);
    // A shard's waiting pushes, by subscription, oldest first: the shard lane's read, and the retry lane's.
    await queryRunner.query(`CREATE INDEX push_deliveries_shard_idx ON push_deliveries (push_shard(subscription_id), subscription_id, id)`);
    await queryRunner.query(`DROP INDEX push_deliveries_waiting_idx`);
    await queryRunner.query(enqueuePushes(`wake_jobs('push-shard', ARRAY(SELECT DISTINCT push_shard(s::bigint)::text FROM unnest(subscriptions) s))`));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(enqueuePushes(`wake_jobs('push', subscriptions, in_queues => false)`));
    await queryRunner.query(`CREATE INDEX push_deliveries_waiting_idx ON push_deliveries (subscription_id, id)`);
    await queryRunner.query(`DROP INDEX push_deliveries_shard_idx`);
    await queryRunner.query(`DROP FUNCTION push_shard(bigint)`);
  }
}
