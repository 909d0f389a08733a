import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import type { AttachmentFacts } from './attachment.view.js';

/**
 * A message's live attachments, in order, as one JSON array (null when it has none), for the
 * message reads (messageColumns): an expression of a subquery in their own statement, so
 * a page of messages costs no further round trip. It runs only for a message that has carried
 * attachments (`has_attachments`): for the others, nearly all, the read costs what it did.
 * `messages` is the alias of the message row.
 */
export function attachmentsOfMessage(messages: string): string {
  return `CASE WHEN ${messages}.has_attachments THEN (SELECT json_agg(json_build_object(
            'id', a.id::text, 'filename', a.filename, 'contentType', a.content_type, 'size', a.size,
            'width', a.width, 'height', a.height, 'createdAt', a.created_at, 'hasThumbnail', a.thumbnail_key IS NOT NULL
          ) ORDER BY a.position)
     FROM attachments a WHERE a.message_id = ${messages}.id AND a.removed_at IS NULL) END`;
}

/** The same facts, returned by a statement that changed the rows (`RETURNING`). */
const FACTS = `a.id::text AS id, a.filename, a.content_type AS "contentType", a.size, a.width, a.height,
  a.created_at AS "createdAt", a.thumbnail_key IS NOT NULL AS "hasThumbnail"`;

/** An attachment with where its bytes are: what a download needs. */
export interface StoredAttachment extends AttachmentFacts {
  uploaderId: string;
  messageId: string | null;
  storageKey: string;
  thumbnailKey: string | null;
  thumbnailSize: string | null;
}

/** A new upload, before its files are in the storage. */
export interface NewAttachment {
  uploaderId: string;
  filename: string;
  contentType: string;
  size: number;
  width: number | null;
  height: number | null;
  storageKey: string;
  thumbnailKey: string | null;
  thumbnailSize: number | null;
}

/** Files to delete from the storage, of rows marked removed. */
export interface RemovedAttachment {
  id: string;
  storageKey: string;
  thumbnailKey: string | null;
}

/** Some of the ids a send or an edit named are not the sender's own attachable uploads. */
export class AttachmentsNotAvailable extends Error {}

// Any constants: they only have to be the same in every Parley process (and differ from the
// migrations' lock).
const QUOTA_LOCK_CLASS = 7_261_978;
const CLEANUP_LOCK_KEY = 7_261_979;

/**
 * Every statement on `attachments`. Statements that change rows and return them are wrapped in
 * `WITH … SELECT`: TypeORM's `query` answers a bare UPDATE or DELETE with `[rows, count]`.
 */
@Injectable()
export class AttachmentsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Bytes of the user's attachments that count against its quota: every one not removed. */
  async usedBytes(uploaderId: string): Promise<number> {
    const [row] = await this.dataSource.query(
      `SELECT coalesce(sum(size), 0) AS used FROM attachments WHERE uploader_id = $1 AND removed_at IS NULL`,
      [uploaderId],
    );
    return Number(row.used);
  }

  /**
   * Writes the row of an upload (state `storing`) if it fits in its uploader's quota, checked
   * under a lock of that uploader's, so that uploads finishing together cannot both take the
   * last of it. Undefined when it does not fit.
   */
  insertStoring(upload: NewAttachment, quotaBytes: number): Promise<{ id: string; createdAt: Date } | undefined> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock($1, ($2::bigint % 2147483647)::integer)`, [QUOTA_LOCK_CLASS, upload.uploaderId]);
      const [row] = await manager.query(
        `INSERT INTO attachments (uploader_id, filename, content_type, size, width, height, storage_key, thumbnail_key, thumbnail_size)
         SELECT $1::bigint, $2, $3, $4::bigint, $5::integer, $6::integer, $7, $8, $9::bigint
          WHERE (SELECT coalesce(sum(size), 0) FROM attachments WHERE uploader_id = $1 AND removed_at IS NULL) + $4::bigint <= $10::bigint
         RETURNING id::text AS id, created_at AS "createdAt"`,
        [
          upload.uploaderId,
          upload.filename,
          upload.contentType,
          upload.size,
          upload.width,
          upload.height,
          upload.storageKey,
          upload.thumbnailKey,
          upload.thumbnailSize,
          quotaBytes,
        ],
      );
      return row;
    });
  }

  /** The upload's files are in the storage: from now on it can be seen and attached. */
  async markStored(id: string): Promise<void> {
    await this.dataSource.query(`UPDATE attachments SET state = 'stored' WHERE id = $1`, [id]);
  }

  /** An upload that failed on its way into the storage (its files are deleted by the caller). */
  async deleteStoring(id: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM attachments WHERE id = $1 AND state = 'storing'`, [id]);
  }

  /**
   * The attachment if `viewerId` may see it: stored, not removed, and the viewer active and
   * either its uploader, a member of the conversation of the message that carries it, or an
   * admin (moderation) when a message carries it.
   */
  async findVisible(attachmentId: string, viewerId: string): Promise<StoredAttachment | undefined> {
    const [row] = await this.dataSource.query(
      `SELECT ${FACTS}, a.uploader_id::text AS "uploaderId", a.message_id::text AS "messageId",
              a.storage_key AS "storageKey", a.thumbnail_key AS "thumbnailKey", a.thumbnail_size AS "thumbnailSize"
         FROM attachments a JOIN users u ON u.id = $2 AND u.active
        WHERE a.id = $1 AND a.state = 'stored' AND a.removed_at IS NULL
          AND (a.uploader_id = $2
               OR (a.message_id IS NOT NULL AND u.role = 'admin')
               OR EXISTS (SELECT 1 FROM messages m
                            JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
                           WHERE m.id = a.message_id))`,
      [attachmentId, viewerId],
    );
    return row;
  }

  /**
   * Attaches the uploader's stored, unattached uploads `ids` to its new message, in that order,
   * inside the send's transaction. Throws AttachmentsNotAvailable, rolling the send back, when
   * any is not one (another user's, attached elsewhere, removed, unknown). Two sends naming
   * the same upload at once: the second waits for the first's row lock, then finds it taken.
   */
  async claimForMessage(manager: EntityManager, messageId: string, uploaderId: string, ids: readonly string[]): Promise<AttachmentFacts[]> {
    const rows: (AttachmentFacts & { position: number })[] = await manager.query(
      `WITH a AS (
         UPDATE attachments a SET message_id = $1, position = array_position($3::bigint[], a.id)
          WHERE a.id = ANY ($3::bigint[]) AND a.uploader_id = $2 AND a.message_id IS NULL
            AND a.state = 'stored' AND a.removed_at IS NULL
         RETURNING *
       ) SELECT ${FACTS}, a.position FROM a`,
      [messageId, uploaderId, ids],
    );
    if (rows.length !== ids.length) throw new AttachmentsNotAvailable();
    return rows.sort((x, y) => x.position - y.position).map(({ position: _position, ...facts }) => facts);
  }

  /**
   * Makes `ids` the message's attachments, in that order, inside an edit's transaction: those
   * it had and no longer names are removed (their files go with the next cleanup), the others
   * stay or are claimed as claimForMessage does. Throws AttachmentsNotAvailable as that does.
   */
  async replaceOnMessage(manager: EntityManager, messageId: string, uploaderId: string, ids: readonly string[]): Promise<AttachmentFacts[]> {
    await manager.query(
      `UPDATE attachments SET removed_at = now() WHERE message_id = $1 AND removed_at IS NULL AND NOT (id = ANY ($2::bigint[]))`,
      [messageId, ids],
    );
    const rows: (AttachmentFacts & { position: number })[] = await manager.query(
      `WITH a AS (
         UPDATE attachments a SET message_id = $1, position = array_position($3::bigint[], a.id)
          WHERE a.id = ANY ($3::bigint[]) AND a.state = 'stored' AND a.removed_at IS NULL
            AND (a.message_id = $1 OR (a.message_id IS NULL AND a.uploader_id = $2))
         RETURNING *
       ) SELECT ${FACTS}, a.position FROM a`,
      [messageId, uploaderId, ids],
    );
    if (rows.length !== ids.length) throw new AttachmentsNotAvailable();
    return rows.sort((x, y) => x.position - y.position).map(({ position: _position, ...facts }) => facts);
  }

  /** The message an attachment is on (null: none), if it exists and is not removed. */
  async findLive(attachmentId: string): Promise<{ messageId: string | null } | undefined> {
    const [row] = await this.dataSource.query(
      `SELECT message_id::text AS "messageId" FROM attachments WHERE id = $1 AND removed_at IS NULL AND state = 'stored'`,
      [attachmentId],
    );
    return row;
  }

  /** Marks one attachment removed (moderation), inside the caller's transaction. False if it already was. */
  async markRemoved(attachmentId: string, manager: EntityManager | DataSource = this.dataSource): Promise<boolean> {
    const rows = await manager.query(
      `WITH removed AS (UPDATE attachments SET removed_at = now() WHERE id = $1 AND removed_at IS NULL RETURNING 1) SELECT * FROM removed`,
      [attachmentId],
    );
    return rows.length > 0;
  }

  /** Marks an upload removed if no message carries it (yet). False if one does, or it is gone. */
  async markRemovedIfUnattached(attachmentId: string): Promise<boolean> {
    const rows = await this.dataSource.query(
      `WITH removed AS (
         UPDATE attachments SET removed_at = now() WHERE id = $1 AND message_id IS NULL AND removed_at IS NULL RETURNING 1
       ) SELECT * FROM removed`,
      [attachmentId],
    );
    return rows.length > 0;
  }

  // The cleanup job (AttachmentsCleanup).

  /** The cleanup job's lock, held by the session of `runner`: one instance at a time runs it. */
  async tryLockCleanup(runner: QueryRunner): Promise<boolean> {
    const [row] = await runner.query(`SELECT pg_try_advisory_lock($1) AS locked`, [CLEANUP_LOCK_KEY]);
    return row.locked;
  }

  async unlockCleanup(runner: QueryRunner): Promise<void> {
    await runner.query(`SELECT pg_advisory_unlock($1)`, [CLEANUP_LOCK_KEY]);
  }

  /** Marks removed the uploads never attached and created before `before`; how many. */
  async removeUnattachedBefore(before: Date): Promise<number> {
    const rows = await this.dataSource.query(
      `WITH removed AS (
         UPDATE attachments SET removed_at = now()
          WHERE message_id IS NULL AND removed_at IS NULL AND state = 'stored' AND created_at < $1 RETURNING 1
       ) SELECT * FROM removed`,
      [before],
    );
    return rows.length;
  }

  /** Marks removed the uploads still `storing` since before `before`: their process died on the way. */
  async removeStoringBefore(before: Date): Promise<number> {
    const rows = await this.dataSource.query(
      `WITH removed AS (
         UPDATE attachments SET removed_at = now() WHERE state = 'storing' AND removed_at IS NULL AND created_at < $1 RETURNING 1
       ) SELECT * FROM removed`,
      [before],
    );
    return rows.length;
  }

  /** Up to `limit` removed attachments whose files are to be deleted, oldest removal first. */
  async findRemoved(limit: number): Promise<RemovedAttachment[]> {
    return this.dataSource.query(
      `SELECT id::text AS id, storage_key AS "storageKey", thumbnail_key AS "thumbnailKey"
         FROM attachments WHERE removed_at IS NOT NULL ORDER BY removed_at LIMIT $1`,
      [limit],
    );
  }

  /** Deletes the rows of removed attachments whose files are gone. */
  async deleteRemoved(ids: readonly string[]): Promise<void> {
    await this.dataSource.query(`DELETE FROM attachments WHERE id = ANY ($1::bigint[]) AND removed_at IS NOT NULL`, [ids]);
  }
}
