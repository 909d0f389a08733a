import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachmentsCleanup } from '../../src/attachments/attachments-cleanup.js';
import { AttachmentStorage, StoredObjectMissing } from '../../src/attachments/storage/attachment-storage.js';
import { startApp, type TestApp } from '../support/app.js';
import { download, png, uploaded } from '../support/attachments.js';
import { newDirect, newUser, type TestUser } from '../support/factories.js';
import { startLocalS3, type LocalS3 } from '../support/s3rver.js';

/**
 * The application with S3_BUCKET set, against s3rver (a local stand-in for an S3-compatible
 * store): the bytes go to the bucket and back through the AWS SDK, and with
 * S3_REDIRECT_DOWNLOADS a download is a redirect to a presigned URL of the bucket.
 */
let s3: LocalS3;
let app: TestApp;
let redirecting: TestApp;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;

beforeAll(async () => {
  s3 = await startLocalS3();
  app = await startApp(s3.env);
  redirecting = await startApp({ ...s3.env, S3_REDIRECT_DOWNLOADS: 'true' });
  [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
  conversationId = await newDirect(app, alice, bob);
});

afterAll(async () => {
  await redirecting?.close();
  await app?.close();
  await s3?.close();
});

describe('attachments in an S3 bucket', () => {
  it('stores an upload and its thumbnail in the bucket, and serves both back, ranges included', async () => {
    const bytes = await png(500, 400);
    const attachment = await uploaded(app, alice, bytes, 'bucket.png');
    expect(attachment).toMatchObject({ contentType: 'image/png', width: 500, height: 400 });
    const content = await download(app, attachment.url);
    expect(content.status).toBe(200);
    expect(content.body.equals(bytes)).toBe(true);
    expect(content.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'content-security-policy': 'sandbox' });
    const part = await download(app, `/api/v1/attachments/${attachment.id}/content`, alice).set('Range', 'bytes=8-15');
    expect(part.status).toBe(206);
    expect(part.body.equals(bytes.subarray(8, 16))).toBe(true);
    const thumbnail = await download(app, attachment.thumbnailUrl!);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers['content-type']).toBe('image/webp');
  });

  it('deletes a deleted message’s objects from the bucket with the cleanup job', async () => {
    const attachment = await uploaded(app, alice, randomBytes(2000), 'gone.bin');
    const [{ key }] = await app.app.get(DataSource).query(`SELECT storage_key AS key FROM attachments WHERE id = $1`, [attachment.id]);
    const storage = app.app.get(AttachmentStorage);
    expect(storage.kind).toBe('s3');
    await expect(storage.read(key)).resolves.toBeDefined();
    const message = await app.http().post('/api/v1/messages').set(alice.auth).send({ conversationId, attachmentIds: [attachment.id] });
    expect(message.status).toBe(201);
    expect((await app.http().delete(`/api/v1/messages/${message.body.id}`).set(alice.auth)).status).toBe(204);
    await app.app.get(AttachmentsCleanup).runOnce();
    await expect(storage.read(key)).rejects.toBeInstanceOf(StoredObjectMissing);
  });

  it('with S3_REDIRECT_DOWNLOADS, answers a download with a redirect to a presigned URL of the bucket', async () => {
    const bytes = Buffer.from('%PDF-1.4\n% a document\n');
    const attachment = await uploaded(redirecting, alice, bytes, 'doc.pdf');
    const answer = await redirecting.http().get(attachment.url).redirects(0);
    expect(answer.status).toBe(302);
    expect(answer.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'content-security-policy': 'sandbox' });
    const location = new URL(answer.headers.location);
    expect(location.origin).toBe(s3.endpoint);
    expect(Number(location.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(3600);
    const fetched = await fetch(location);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(bytes)).toBe(true);
    expect(fetched.headers.get('content-disposition')).toMatch(/^attachment; filename="doc.pdf"/);
    // An outsider gets no redirect.
    const outsider = await newUser(redirecting, 'outsider');
    expect((await redirecting.http().get(`/api/v1/attachments/${attachment.id}/content`).set(outsider.auth).redirects(0)).status).toBe(404);
  });
});
