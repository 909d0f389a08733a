import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AttachmentsCleanup } from '../../src/attachments/attachments-cleanup.js';
import { Clock } from '../../src/attachments/clock.js';
import { startApp, type TestApp } from '../support/app.js';
import { download, jpegWithGps, multipart, png, pngBomb, upload, uploaded, type Attachment } from '../support/attachments.js';
import { ownDatabase } from '../support/own-database.js';
import { newDirect, newGroup, newUser, PASSWORD, send, testUser, uniqueName, type TestUser } from '../support/factories.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

/**
 * Attachments end to end (API-next.md section A), on the local directory storage; the S3
 * storage runs the same storage suite (attachment-storage.e2e.test.ts) and its own app test
 * (attachments-s3.e2e.test.ts).
 */
let app: TestApp;
/** Small limits: 100 kB a file, 250 kB a user. */
let small: TestApp;
let database: Awaited<ReturnType<typeof ownDatabase>>;
let alice: TestUser;
let bob: TestUser;
let outsider: TestUser;
let admin: TestUser;
let directId: string;

const ADMIN_PASSWORD = 'admin password 1';

/** The pids of this test process's image processes (src/attachments/image-worker.ts). */
function imageWorkers(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('image-worker.js');
      } catch {
        return false; // ended meanwhile
      }
    })
    .map(Number);
}

function niceness(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, nice field 19.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

const db = () => app.app.get(DataSource);
const rowsOf = (uploaderId: string): Promise<{ id: string; state: string; removed_at: Date | null }[]> =>
  db().query(`SELECT id::text, state, removed_at FROM attachments WHERE uploader_id = $1`, [uploaderId]);
const stagingFiles = (of = app) => readdir(path.join(of.config.storageDir, '.staging'));
const storedFile = (key: string) => path.join(app.config.storageDir, key);
const keysOf = async (id: string): Promise<{ storageKey: string; thumbnailKey: string | null }> =>
  (await db().query(`SELECT storage_key AS "storageKey", thumbnail_key AS "thumbnailKey" FROM attachments WHERE id = $1`, [id]))[0];

/** Moves the cleanup job's and the links' clock by `ms` until `restore` is called. */
function moveClock(ms: number): { restore: () => void } {
  const clock = app.app.get(Clock);
  const spy = vi.spyOn(clock, 'now').mockImplementation(() => Date.now() + ms);
  return { restore: () => spy.mockRestore() };
}

function sendWith(user: TestUser, conversationId: string, attachmentIds: unknown, extra: Record<string, unknown> = {}) {
  return app.http().post('/api/v1/messages').set(user.auth).send({ conversationId, attachmentIds, ...extra });
}

async function sent(user: TestUser, conversationId: string, attachmentIds: string[], extra: Record<string, unknown> = {}) {
  const response = await sendWith(user, conversationId, attachmentIds, extra);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as { id: string; seq: number; changeSeq: number; body: string; attachments: Attachment[] };
}

async function login(username: string, password: string): Promise<TestUser> {
  const response = await app.http().post('/api/v1/auth/login').send({ username, password });
  expect(response.status).toBe(200);
  return testUser(username, response.body);
}

beforeAll(async () => {
  // The cleanup job's clock is moved a day ahead here: on a database of this suite's own, so
  // that other suites' uploads are not swept meanwhile.
  database = await ownDatabase('attachments');
  const adminName = uniqueName('admin');
  const env = { ...(database ? { DATABASE_URL: database.url } : {}), ADMIN_USERNAME: adminName, ADMIN_PASSWORD };
  app = await startApp(env);
  small = await startApp({ ...env, ATTACHMENT_MAX_BYTES: '100000', ATTACHMENT_QUOTA_BYTES: '250000' });
  [alice, bob, outsider] = [await newUser(app, 'alice'), await newUser(app, 'bob'), await newUser(app, 'outsider')];
  admin = await login(adminName, ADMIN_PASSWORD);
  directId = await newDirect(app, alice, bob);
});

afterAll(async () => {
  await small?.close();
  await app?.close();
  await database?.drop();
});

describe('uploading', () => {
  it('stores a file and answers the attachment, which its uploader reads back byte for byte', async () => {
    const bytes = await png(64, 48);
    const attachment = await uploaded(app, alice, bytes, 'photo.png', 'image/png');
    expect(attachment).toMatchObject({ filename: 'photo.png', contentType: 'image/png', size: bytes.length, width: 64, height: 48 });
    expect(Object.keys(attachment).sort()).toEqual(['contentType', 'createdAt', 'filename', 'height', 'id', 'size', 'thumbnailUrl', 'url', 'width']);
    const again = await app.http().get(`/api/v1/attachments/${attachment.id}`).set(alice.auth);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: attachment.id, filename: 'photo.png', size: bytes.length, createdAt: attachment.createdAt });
    const content = await download(app, `/api/v1/attachments/${attachment.id}/content`, alice);
    expect(content.status).toBe(200);
    expect(Buffer.compare(content.body, bytes)).toBe(0);
    expect(content.headers).toMatchObject({
      'content-type': 'image/png',
      'x-content-type-options': 'nosniff',
      'content-security-policy': 'sandbox',
      'content-length': String(bytes.length),
    });
    expect(content.headers['content-disposition']).toMatch(/^inline; filename="photo.png"/);
    expect(await stagingFiles()).toEqual([]);
  });

  it('streams a 25 MiB file to the storage and back, byte for byte', async () => {
    const bytes = randomBytes(25 * 2 ** 20);
    const attachment = await uploaded(app, alice, bytes, 'big.bin');
    expect(attachment).toMatchObject({ size: bytes.length, contentType: 'application/octet-stream', width: null, height: null, thumbnailUrl: null });
    const content = await download(app, `/api/v1/attachments/${attachment.id}/content`, alice);
    expect(content.body.equals(bytes)).toBe(true);
    expect(content.headers['content-disposition']).toMatch(/^attachment; filename="big.bin"/);
  });

  it('takes an empty file', async () => {
    const attachment = await uploaded(app, alice, Buffer.alloc(0), 'empty.txt', 'text/plain');
    expect(attachment).toMatchObject({ size: 0, contentType: 'application/octet-stream', thumbnailUrl: null });
  });

  it('cleans the file name of path parts, control characters and direction overrides', async () => {
    const cases: [sent: string, kept: string][] = [
      ['../../etc/passwd', 'passwd'],
      ['C:\\Users\\x\\report.pdf', 'report.pdf'],
      ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
      ['tab\there\u0007.txt', 'tabhere.txt'],
      ['..', 'file'],
      ['  ', 'file'],
      ['😀 résumé.txt', '😀 résumé.txt'],
      [`${'n'.repeat(300)}.txt`, `${'n'.repeat(196)}.txt`],
    ];
    for (const [name, kept] of cases) {
      // As raw bytes: a client library would refuse to put some of these names in a header.
      const response = await multipart(app, alice, [{ name: 'file', filename: name, body: Buffer.from('hello') }]);
      expect(response.status, name).toBe(201);
      expect(((await response.json()) as Attachment).filename, name).toBe(kept);
    }
  });

  it('sniffs the real type: a PNG named .txt is a PNG, an HTML file named .png is text, never an image', async () => {
    const bytes = await png(20, 10);
    const pngAsText = await uploaded(app, alice, bytes, 'notes.txt', 'text/plain');
    expect(pngAsText).toMatchObject({ contentType: 'image/png', width: 20, height: 10 });
    expect(pngAsText.thumbnailUrl).not.toBeNull();

    const html = Buffer.from('<!doctype html><html><body><script>alert(document.cookie)</script></body></html>');
    const htmlAsPng = await uploaded(app, alice, html, 'cat.png', 'image/png');
    expect(htmlAsPng).toMatchObject({ filename: 'cat.png', contentType: 'text/plain', width: null, height: null, thumbnailUrl: null });
    const content = await download(app, `/api/v1/attachments/${htmlAsPng.id}/content`, alice);
    expect(content.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(content.headers['content-disposition']).toMatch(/^attachment;/);
    expect(content.headers['x-content-type-options']).toBe('nosniff');
    expect(content.headers['content-security-policy']).toBe('sandbox');
    expect((await app.http().get(`/api/v1/attachments/${htmlAsPng.id}/thumbnail`).set(alice.auth)).status).toBe(404);

    const svg = Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>');
    const svgAttachment = await uploaded(app, alice, svg, 'logo.svg', 'image/svg+xml');
    expect(svgAttachment.contentType).not.toMatch(/^image\//);
    const svgContent = await download(app, `/api/v1/attachments/${svgAttachment.id}/content`, alice);
    expect(svgContent.headers['content-disposition']).toMatch(/^attachment;/);
  });

  it('makes a WebP thumbnail of at most 320 px of a large JPEG, and strips its EXIF (GPS included), upright', async () => {
    // 4000 × 3000 as stored, shown turned a quarter (EXIF orientation 6): 3000 × 4000.
    const bytes = await jpegWithGps(4000, 3000, 6);
    expect((await sharp(bytes).metadata()).exif).toBeDefined();
    const attachment = await uploaded(app, alice, bytes, 'IMG_0001.JPG', 'image/jpeg');
    expect(attachment).toMatchObject({ contentType: 'image/jpeg', width: 3000, height: 4000 });
    const thumbnail = await download(app, attachment.thumbnailUrl!);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers['content-type']).toBe('image/webp');
    expect(thumbnail.headers['content-disposition']).toMatch(/^inline;/);
    const thumb = await sharp(thumbnail.body).metadata();
    expect(thumb).toMatchObject({ format: 'webp', width: 240, height: 320 });

    const content = await download(app, attachment.url);
    expect(content.body.length).toBe(attachment.size);
    const stored = await sharp(content.body).metadata();
    expect(stored).toMatchObject({ format: 'jpeg', width: 3000, height: 4000 });
    expect(stored.exif).toBeUndefined();
    expect(content.body.includes(Buffer.from('TestCam'))).toBe(false);
  });

  it('decodes images in a child process of lower CPU priority, and a decoder that dies fails only its upload', async () => {
    await uploaded(app, alice, await png(64, 48), 'first.png', 'image/png');
    const [worker] = imageWorkers();
    expect(worker).toBeDefined();
    // The kernel's nice value (field 19 of /proc/<pid>/stat): below the server's in priority.
    expect(niceness(worker!)).toBeGreaterThanOrEqual(niceness(process.pid) + 10);

    // A decoder crash (a hostile file) ends that process; the server goes on, and the next image gets a new one.
    process.kill(worker!, 'SIGKILL');
    await vi.waitFor(() => expect(imageWorkers()).not.toContain(worker));
    const next = await uploaded(app, alice, await png(64, 48), 'second.png', 'image/png');
    expect(next).toMatchObject({ width: 64, height: 48 });
    expect(imageWorkers().length).toBe(1);
  });

  it('refuses a decompression bomb from its header with 400, keeping nothing', async () => {
    const bomb = pngBomb(50_000);
    expect(bomb.length).toBeLessThan(10_000);
    const user = await newUser(app, 'bomber');
    const started = Date.now();
    const response = await upload(app, user, bomb, 'bomb.png', 'image/png');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(response.body.message).toMatch(/50000 × 50000 pixels/);
    // Decoding 2.5 GB of pixels takes many seconds; reading a header does not.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await rowsOf(user.id)).toEqual([]);
    expect(await stagingFiles()).toEqual([]);
  });

  it('refuses an image that does not decode with 400', async () => {
    const bytes = await png(200, 200);
    const broken = Buffer.concat([bytes.subarray(0, 60), randomBytes(400)]);
    const response = await upload(app, alice, broken, 'broken.png', 'image/png');
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/could not be read/);
  });

  it('answers 400 without a file part, with another part, or with two files; 415 for a body that is not multipart', async () => {
    const file = { name: 'file', filename: 'a.txt', body: Buffer.from('a') };
    const refusals: [string, Parameters<typeof multipart>[2]][] = [
      ['no part', []],
      ['only a field', [{ name: 'file', body: Buffer.from('just text') }]],
      ['a field first', [{ name: 'caption', body: Buffer.from('x') }, file]],
      ['a field after', [file, { name: 'caption', body: Buffer.from('x') }]],
      ['a file under another name', [{ ...file, name: 'upload' }]],
      ['two files', [file, { ...file, filename: 'b.txt' }]],
      ['three files', [file, file, file]],
      ['a part named like an Object member', [{ ...file, name: 'constructor' }]],
    ];
    const user = await newUser(app, 'parts');
    for (const [what, parts] of refusals) {
      const response = await multipart(app, user, parts);
      expect(response.status, what).toBe(400);
      expect(Object.keys((await response.json()) as object).sort(), what).toEqual(['error', 'message', 'statusCode']);
    }
    const json = await app.http().post('/api/v1/attachments').set(user.auth).send({ file: 'aGVsbG8=' });
    expect(json.status).toBe(415);
    const none = await app.http().post('/api/v1/attachments').set(user.auth);
    expect(none.status).toBe(415);
    const noBoundary = await app.http().post('/api/v1/attachments').set(user.auth).set('Content-Type', 'multipart/form-data').send('x');
    expect(noBoundary.status).toBe(400);
    expect(await rowsOf(user.id)).toEqual([]);
    expect(await stagingFiles()).toEqual([]);
  });

  it('leaves no file and no row behind an upload cut off halfway', async () => {
    const user = await newUser(app, 'cutoff');
    const boundary = 'cut-off-boundary';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="half.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const fileSize = 4 * 2 ** 20;
    const length = head.length + fileSize + `\r\n--${boundary}--\r\n`.length;
    const { port } = new URL(app.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /api/v1/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${user.token}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${length}\r\n\r\n`,
    );
    socket.write(head);
    socket.write(randomBytes(fileSize / 2));
    // The half has reached the staging directory before the client goes.
    await expect.poll(async () => (await stagingFiles()).length, { timeout: 10_000 }).toBeGreaterThan(0);
    socket.destroy();
    await expect.poll(async () => (await stagingFiles()).length, { timeout: 10_000 }).toBe(0);
    expect(await rowsOf(user.id)).toEqual([]);
    // And the server still takes uploads.
    await uploaded(app, user, Buffer.from('after'), 'after.txt');
  });
});

describe('limits', () => {
  it('answers 413 past ATTACHMENT_MAX_BYTES, announced or streamed, keeping nothing', async () => {
    const user = await newUser(small, 'big');
    const announced = await upload(small, user, randomBytes(150_000), 'big.bin');
    expect(announced.status).toBe(413);
    expect(announced.body).toEqual({ statusCode: 413, error: 'Payload Too Large', message: expect.stringContaining('ATTACHMENT_MAX_BYTES') });
    // Chunked, with no length announced: refused as it passes the limit.
    const streamed = await multipart(small, user, [{ name: 'file', filename: 'big.bin', body: randomBytes(150_000) }], { chunked: true });
    expect(streamed.status).toBe(413);
    expect((await streamed.json()) as object).toMatchObject({ statusCode: 413 });
    expect(await rowsOf(user.id)).toEqual([]);
    expect(await stagingFiles(small)).toEqual([]);
    const fits = await uploaded(small, user, randomBytes(100_000), 'fits.bin');
    expect(fits.size).toBe(100_000);
  });

  it('answers 413 past the storage quota; what a deleted message held is given back', async () => {
    const user = await newUser(small, 'quota');
    const conversation = await newDirect(small, user, bob);
    const first = await uploaded(small, user, randomBytes(90_000), 'one.bin');
    await uploaded(small, user, randomBytes(90_000), 'two.bin');
    const third = await upload(small, user, randomBytes(90_000), 'three.bin');
    expect(third.status).toBe(413);
    expect(third.body.message).toMatch(/quota/);
    expect((await rowsOf(user.id)).length).toBe(2);
    // Streamed: refused as it passes the quota, not the size limit.
    const streamed = await multipart(small, user, [{ name: 'file', filename: 'three.bin', body: randomBytes(90_000) }], { chunked: true });
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { message: string }).message).toMatch(/quota/);
    // Far past both, with no length announced: the client still gets the answer, not a reset.
    const flood = await multipart(small, user, [{ name: 'file', filename: 'flood.bin', body: randomBytes(8 * 2 ** 20) }], { chunked: true });
    expect(flood.status).toBe(413);
    expect(await stagingFiles(small)).toEqual([]);

    const message = await small.http().post('/api/v1/messages').set(user.auth).send({ conversationId: conversation, attachmentIds: [first.id] });
    expect(message.status).toBe(201);
    expect((await small.http().delete(`/api/v1/messages/${message.body.id}`).set(user.auth)).status).toBe(204);
    await uploaded(small, user, randomBytes(90_000), 'three.bin');
  });

  it('refuses more than 10 attachments on a message', async () => {
    const ids = [];
    for (let i = 0; i < 11; i++) ids.push((await uploaded(app, alice, Buffer.from(`file ${i}`), `${i}.txt`)).id);
    const eleven = await sendWith(alice, directId, ids);
    expect(eleven.status).toBe(400);
    expect(eleven.body.message).toEqual(['attachmentIds must contain no more than 10 elements']);
    const ten = await sent(alice, directId, ids.slice(0, 10));
    expect(ten.attachments.map((a) => a.id)).toEqual(ids.slice(0, 10));
  });
});

describe('attaching to messages', () => {
  it('sends a message with attachments and an empty body; members see them everywhere a message is shown', async () => {
    const photo = await uploaded(app, alice, await png(30, 30), 'a.png');
    const doc = await uploaded(app, alice, Buffer.from('%PDF-1.4\n%fake\n'), 'b.pdf');
    const socket = await TestSocket.connect(app.wsUrl, { token: bob.token });
    const message = await sent(alice, directId, [doc.id, photo.id]);
    expect(message.body).toBe('');
    expect(message.attachments.map((a) => [a.id, a.filename, a.contentType])).toEqual([
      [doc.id, 'b.pdf', 'application/pdf'],
      [photo.id, 'a.png', 'image/png'],
    ]);
    await socket.next(forMessage(message.id, 'message.created'));
    socket.close();

    const read = await app.http().get(`/api/v1/messages/${message.id}`).set(bob.auth);
    expect(read.body.attachments.map((a: Attachment) => a.id)).toEqual([doc.id, photo.id]);
    // Links are signed for the reader.
    expect(read.body.attachments[0].url).toContain(`user=${bob.id}&`);
    const history = await app.http().get(`/api/v1/conversations/${directId}/messages?limit=1`).set(bob.auth);
    expect(history.body.items[0].attachments.map((a: Attachment) => a.id)).toEqual([doc.id, photo.id]);
    const changes = await app.http().get(`/api/v1/conversations/${directId}/changes?since=${message.changeSeq - 1}`).set(bob.auth);
    expect(changes.body.items[0].attachments.map((a: Attachment) => a.id)).toEqual([doc.id, photo.id]);

    // A member reads the attachment, its bytes by token and by link, and the thumbnail.
    expect((await app.http().get(`/api/v1/attachments/${doc.id}`).set(bob.auth)).status).toBe(200);
    const pdf = await download(app, `/api/v1/attachments/${doc.id}/content`, bob);
    expect(pdf.body.toString()).toBe('%PDF-1.4\n%fake\n');
    expect(pdf.headers['content-disposition']).toMatch(/^attachment; filename="b.pdf"/);
    expect((await download(app, read.body.attachments[1].thumbnailUrl)).status).toBe(200);
  });

  it('shows the attachments in a conversation’s lastMessage, in search results and on pins', async () => {
    const conversation = await newDirect(app, alice, await newUser(app, 'viewer'));
    const file = await uploaded(app, alice, await png(12, 12), 'seen.png');
    const word = `findme${randomBytes(3).toString('hex')}`;
    const message = await sent(alice, conversation, [file.id], { body: `a photo ${word}` });
    const listed = await app.http().get(`/api/v1/conversations/${conversation}`).set(alice.auth);
    expect(listed.body.lastMessage).toMatchObject({ id: message.id, attachments: [{ id: file.id, filename: 'seen.png' }] });
    const found = await app.http().get('/api/v1/search/messages').query({ q: word }).set(alice.auth);
    expect(found.body.items[0].message.attachments.map((a: Attachment) => a.id)).toEqual([file.id]);
    expect((await app.http().put(`/api/v1/conversations/${conversation}/pins/${message.id}`).set(alice.auth)).status).toBe(204);
    const pins = await app.http().get(`/api/v1/conversations/${conversation}/pins`).set(alice.auth);
    expect(pins.body.items[0].attachments.map((a: Attachment) => a.id)).toEqual([file.id]);
    expect((await download(app, pins.body.items[0].attachments[0].url)).status).toBe(200);
  });

  it('reads a page of messages with attachments in the same number of statements as one', async () => {
    const conversation = await newDirect(app, alice, await newUser(app, 'reader'));
    const countOnce = async () => {
      const spy = vi.spyOn(db(), 'query');
      try {
        const page = await app.http().get(`/api/v1/conversations/${conversation}/messages?limit=100`).set(alice.auth);
        expect(page.status).toBe(200);
        // Not counted: the outbox's clearing, which runs every 100 ms in the background.
        const statements = spy.mock.calls.filter(([sql]) => !/fanout_outbox/.test(String(sql))).length;
        return { statements, attachments: page.body.items.flatMap((m: { attachments: unknown[] }) => m.attachments).length };
      } finally {
        spy.mockRestore();
      }
    };
    // The fewest of three reads: other background work on the same pool (the sets of webhook bots
    // and push subscribers read every 5 s) can fall into one read's window (seen once in CI).
    const count = async () => {
      const reads = [await countOnce(), await countOnce(), await countOnce()];
      return { statements: Math.min(...reads.map((read) => read.statements)), attachments: reads[0].attachments };
    };
    const attach = async () => sent(alice, conversation, [(await uploaded(app, alice, Buffer.from('x'), 'x.txt')).id, (await uploaded(app, alice, Buffer.from('y'), 'y.txt')).id]);
    await attach();
    const one = await count();
    for (let i = 0; i < 9; i++) await attach();
    const ten = await count();
    expect(one.attachments).toBe(2);
    expect(ten.attachments).toBe(20);
    expect(ten.statements).toBe(one.statements);
  });

  it('refuses attachments that are not the sender’s own unattached uploads, storing nothing', async () => {
    const bobs = await uploaded(app, bob, Buffer.from('bob'), 'bob.txt');
    const mine = await uploaded(app, alice, Buffer.from('mine'), 'mine.txt');
    const attached = (await sent(alice, directId, [(await uploaded(app, alice, Buffer.from('z'), 'z.txt')).id])).attachments[0];
    const before = await app.http().get(`/api/v1/conversations/${directId}`).set(alice.auth);
    const refusals: [string, unknown][] = [
      ["another user's upload", [bobs.id]],
      ['an attachment already on a message', [attached.id]],
      ['one good, one bad', [mine.id, bobs.id]],
      ['an unknown id', ['987654321']],
      ['the same id twice', [mine.id, mine.id]],
      ['a malformed id', ['abc']],
      ['a number', [Number(mine.id)]],
      ['not a list', mine.id],
    ];
    for (const [what, ids] of refusals) {
      const response = await sendWith(alice, directId, ids);
      expect(response.status, what).toBe(400);
    }
    const after = await app.http().get(`/api/v1/conversations/${directId}`).set(alice.auth);
    expect(after.body.lastSeq).toBe(before.body.lastSeq);
    // Still attachable.
    expect((await sent(alice, directId, [mine.id])).attachments[0].id).toBe(mine.id);
  });

  it('keeps v1’s body rule without attachments', async () => {
    expect((await sendWith(alice, directId, [], { body: '' })).status).toBe(400);
    expect((await sendWith(alice, directId, undefined, { body: '  ' })).status).toBe(400);
    expect((await sendWith(alice, directId, [], { body: 'text only' })).body.attachments).toEqual([]);
    const plain = await send(app, alice, directId, 'plain');
    expect((await app.http().get(`/api/v1/messages/${plain.id}`).set(alice.auth)).body.attachments).toEqual([]);
  });

  it('gives one of two sends racing for the same upload the attachment, and the other 400', async () => {
    const contested = await uploaded(app, alice, Buffer.from('mine alone'), 'c.txt');
    const answers = await Promise.all([sendWith(alice, directId, [contested.id]), sendWith(alice, directId, [contested.id])]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 400]);
  });

  it('answers a repeated clientMessageId with the original message and its attachments', async () => {
    const file = await uploaded(app, alice, Buffer.from('once'), 'once.txt');
    const clientMessageId = `retry-${randomBytes(4).toString('hex')}`;
    const first = await sendWith(alice, directId, [file.id], { clientMessageId, body: 'with a file' });
    expect(first.status).toBe(201);
    const retry = await sendWith(alice, directId, [file.id], { clientMessageId, body: 'with a file' });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: first.body.id, attachments: [{ id: file.id }] });
  });

  it('sends with attachments to a recipient directly', async () => {
    const carol = await newUser(app, 'carol');
    const file = await uploaded(app, alice, Buffer.from('direct'), 'd.txt');
    const response = await app.http().post('/api/v1/messages').set(alice.auth).send({ recipientId: carol.id, attachmentIds: [file.id] });
    expect(response.status).toBe(201);
    expect((await app.http().get(`/api/v1/attachments/${file.id}`).set(carol.auth)).status).toBe(200);
  });
});

describe('editing and deleting', () => {
  it('replaces a message’s attachments by an edit: changeSeq moves, members get message.updated, the dropped one is gone', async () => {
    const [one, two, three] = [
      await uploaded(app, alice, Buffer.from('one'), '1.txt'),
      await uploaded(app, alice, Buffer.from('two'), '2.txt'),
      await uploaded(app, alice, Buffer.from('three'), '3.txt'),
    ];
    const message = await sent(alice, directId, [one.id, two.id], { body: 'files' });
    const socket = await TestSocket.connect(app.wsUrl, { token: bob.token });
    const edited = await app.http().patch(`/api/v1/messages/${message.id}`).set(alice.auth).send({ attachmentIds: [three.id, two.id] });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ body: 'files', attachments: [{ id: three.id }, { id: two.id }] });
    expect(edited.body.changeSeq).toBeGreaterThan(message.changeSeq);
    expect(edited.body.editedAt).not.toBeNull();
    const frame = await socket.next(forMessage(message.id, 'message.updated'));
    expect(frame).toMatchObject({ changeSeq: edited.body.changeSeq });
    socket.close();
    const changes = await app.http().get(`/api/v1/conversations/${directId}/changes?since=${edited.body.changeSeq - 1}`).set(bob.auth);
    expect(changes.body.items).toEqual([expect.objectContaining({ id: message.id, attachments: [expect.objectContaining({ id: three.id }), expect.objectContaining({ id: two.id })] })]);
    for (const user of [alice, bob]) expect((await app.http().get(`/api/v1/attachments/${one.id}`).set(user.auth)).status).toBe(404);

    // The text alone: the attachments stay.
    const text = await app.http().patch(`/api/v1/messages/${message.id}`).set(alice.auth).send({ body: 'new text' });
    expect(text.body.attachments.map((a: Attachment) => a.id)).toEqual([three.id, two.id]);
  });

  it('attaches files to a message sent without any, by an edit', async () => {
    const plain = await send(app, alice, directId, 'words first');
    const file = await uploaded(app, alice, Buffer.from('later'), 'later.txt');
    const edited = await app.http().patch(`/api/v1/messages/${plain.id}`).set(alice.auth).send({ attachmentIds: [file.id] });
    expect(edited.status).toBe(200);
    const read = await app.http().get(`/api/v1/messages/${plain.id}`).set(bob.auth);
    expect(read.body).toMatchObject({ body: 'words first', attachments: [{ id: file.id, filename: 'later.txt' }] });
    const history = await app.http().get(`/api/v1/conversations/${directId}/messages?before=${plain.seq + 1}&limit=1`).set(bob.auth);
    expect(history.body.items[0].attachments.map((a: Attachment) => a.id)).toEqual([file.id]);
  });

  it('refuses an edit that would leave nothing, or attach what is not the sender’s, changing nothing', async () => {
    const file = await uploaded(app, alice, Buffer.from('only'), 'only.txt');
    const message = await sent(alice, directId, [file.id]);
    const none = await app.http().patch(`/api/v1/messages/${message.id}`).set(alice.auth).send({ attachmentIds: [] });
    expect(none.status).toBe(400);
    const bobs = await uploaded(app, bob, Buffer.from('b'), 'b.txt');
    const foreign = await app.http().patch(`/api/v1/messages/${message.id}`).set(alice.auth).send({ attachmentIds: [bobs.id] });
    expect(foreign.status).toBe(400);
    const byBob = await app.http().patch(`/api/v1/messages/${message.id}`).set(bob.auth).send({ attachmentIds: [bobs.id] });
    expect(byBob.status).toBe(403);
    const unchanged = await app.http().get(`/api/v1/messages/${message.id}`).set(alice.auth);
    expect(unchanged.body).toMatchObject({ changeSeq: message.changeSeq, attachments: [{ id: file.id }] });
    const withText = await app.http().patch(`/api/v1/messages/${message.id}`).set(alice.auth).send({ attachmentIds: [], body: 'words now' });
    expect(withText.status).toBe(200);
    expect(withText.body).toMatchObject({ body: 'words now', attachments: [] });
  });

  it('removes a deleted message’s attachments: the tombstone has none, nobody sees them, the cleanup deletes the files', async () => {
    const photo = await uploaded(app, alice, await png(10, 10), 'gone.png');
    const message = await sent(alice, directId, [photo.id], { body: 'soon gone' });
    const link = message.attachments[0].url;
    const keys = await keysOf(photo.id);
    expect(existsSync(storedFile(keys.storageKey))).toBe(true);
    expect((await app.http().delete(`/api/v1/messages/${message.id}`).set(alice.auth)).status).toBe(204);
    const tombstone = await app.http().get(`/api/v1/messages/${message.id}`).set(bob.auth);
    expect(tombstone.body).toMatchObject({ body: null, attachments: [] });
    for (const user of [alice, bob]) {
      expect((await app.http().get(`/api/v1/attachments/${photo.id}`).set(user.auth)).status).toBe(404);
      expect((await app.http().get(`/api/v1/attachments/${photo.id}/content`).set(user.auth)).status).toBe(404);
    }
    expect((await app.http().get(link)).status).toBe(404);
    const report = await app.app.get(AttachmentsCleanup).runOnce();
    expect(report.ran).toBe(true);
    expect(report.deleted).toBeGreaterThanOrEqual(1);
    expect(existsSync(storedFile(keys.storageKey))).toBe(false);
    expect(existsSync(storedFile(keys.thumbnailKey!))).toBe(false);
    expect(await db().query(`SELECT 1 FROM attachments WHERE id = $1`, [photo.id])).toEqual([]);
  });
});

describe('who sees an attachment', () => {
  it('only its uploader, before it is attached', async () => {
    const file = await uploaded(app, alice, await png(8, 8), 'private.png');
    expect((await app.http().get(`/api/v1/attachments/${file.id}`).set(alice.auth)).status).toBe(200);
    for (const user of [bob, outsider, admin]) {
      for (const route of ['', '/content', '/thumbnail']) {
        const response = await app.http().get(`/api/v1/attachments/${file.id}${route}`).set(user.auth);
        expect(response.status, `${user.username} ${route}`).toBe(404);
      }
    }
  });

  it('answers an outsider 404 on every route, by token and by a link made for someone else, as for an id that does not exist', async () => {
    const file = await uploaded(app, alice, await png(8, 8), 'secret.png');
    const message = await sent(alice, directId, [file.id], { body: 'secret' });
    const bobsView = (await app.http().get(`/api/v1/messages/${message.id}`).set(bob.auth)).body.attachments[0] as Attachment;
    const own = await uploaded(app, outsider, await png(8, 8), 'own.png');
    const missing = await app.http().get('/api/v1/attachments/987654321').set(outsider.auth);
    const attempts: [string, () => Promise<{ status: number; body: unknown }>][] = [
      ['GET by token', () => app.http().get(`/api/v1/attachments/${file.id}`).set(outsider.auth)],
      ['content by token', () => app.http().get(`/api/v1/attachments/${file.id}/content`).set(outsider.auth)],
      ['thumbnail by token', () => app.http().get(`/api/v1/attachments/${file.id}/thumbnail`).set(outsider.auth)],
      ["bob's link, made out to the outsider", () => app.http().get(bobsView.url.replace(`user=${bob.id}`, `user=${outsider.id}`))],
      ["the outsider's own link, pointed at alice's file", () => app.http().get(own.url.replace(`/attachments/${own.id}/`, `/attachments/${file.id}/`))],
      ["the outsider's own thumbnail link, pointed at alice's file", () => app.http().get(own.thumbnailUrl!.replace(`/attachments/${own.id}/`, `/attachments/${file.id}/`))],
      ["bob's link with the outsider's token beside it", () => app.http().get(`${bobsView.url}x`).set(outsider.auth)],
    ];
    for (const [what, attempt] of attempts) {
      const response = await attempt();
      expect(response.status, what).toBe(404);
      expect(response.body, what).toEqual(missing.body);
    }
  });

  it('takes signed links without a token, and refuses tampered, expired or swapped ones with 404', async () => {
    const file = await uploaded(app, alice, await png(16, 16), 'linked.png');
    const message = await sent(alice, directId, [file.id]);
    const { url, thumbnailUrl } = message.attachments[0];
    const expires = Number(new URL(url, app.url).searchParams.get('expires'));
    const now = Date.now() / 1000;
    expect(expires - now).toBeGreaterThan(29 * 60);
    expect(expires - now).toBeLessThanOrEqual(60 * 60);
    const ok = await download(app, url);
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toMatch(/^private, max-age=\d+$/);
    expect((await download(app, thumbnailUrl!)).status).toBe(200);

    const tampered: [string, string][] = [
      ['signature changed', url.replace(/signature=(.)/, (_m, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`)],
      ['expiry moved', url.replace(`expires=${expires}`, `expires=${expires + 1800}`)],
      ['another user', url.replace(`user=${alice.id}`, `user=${bob.id}`)],
      ['a content link on the thumbnail', url.replace('/content?', '/thumbnail?')],
      ['a thumbnail link on the content', thumbnailUrl!.replace('/thumbnail?', '/content?')],
      ['no signature', url.replace(/&signature=.*$/, '')],
      ['garbage', `/api/v1/attachments/${file.id}/content?user=${alice.id}&expires=x&signature=y`],
    ];
    for (const [what, link] of tampered) expect((await app.http().get(link)).status, what).toBe(404);

    const later = moveClock(61 * 60 * 1000);
    try {
      expect((await app.http().get(url)).status).toBe(404);
      expect((await app.http().get(thumbnailUrl!)).status).toBe(404);
    } finally {
      later.restore();
    }
    expect((await app.http().get(url)).status).toBe(200);
  });

  it('stops a removed member’s links at once', async () => {
    const carol = await newUser(app, 'carol');
    const group = await newGroup(app, alice, [bob, carol]);
    const file = await uploaded(app, alice, await png(8, 8), 'group.png');
    const message = await sent(alice, group, [file.id]);
    const carolsLink = (await app.http().get(`/api/v1/messages/${message.id}`).set(carol.auth)).body.attachments[0].url;
    expect((await app.http().get(carolsLink)).status).toBe(200);
    expect((await app.http().delete(`/api/v1/conversations/${group}/members/${carol.id}`).set(alice.auth)).status).toBe(204);
    expect((await app.http().get(carolsLink)).status).toBe(404);
    expect((await app.http().get(`/api/v1/attachments/${file.id}`).set(carol.auth)).status).toBe(404);
  });

  it('answers 401 without a token or a link', async () => {
    const file = await uploaded(app, alice, Buffer.from('x'), 'x.txt');
    for (const route of ['', '/content', '/thumbnail']) expect((await app.http().get(`/api/v1/attachments/${file.id}${route}`)).status).toBe(401);
    expect((await app.http().post('/api/v1/attachments').attach('file', Buffer.from('x'), 'x.txt')).status).toBe(401);
  });
});

describe('ranges', () => {
  it('answers Range with 206 and the part asked for, 416 past the end, and the whole file for several ranges', async () => {
    const bytes = randomBytes(1000);
    const file = await uploaded(app, alice, bytes, 'r.bin');
    const get = (range: string) => download(app, `/api/v1/attachments/${file.id}/content`, alice).set('Range', range);
    const cases: [range: string, start: number, end: number][] = [
      ['bytes=0-9', 0, 9],
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=500-5000', 500, 999],
    ];
    for (const [range, start, end] of cases) {
      const response = await get(range);
      expect(response.status, range).toBe(206);
      expect(response.headers['content-range'], range).toBe(`bytes ${start}-${end}/1000`);
      expect(response.headers['content-length']).toBe(String(end - start + 1));
      expect(response.body.equals(bytes.subarray(start, end + 1)), range).toBe(true);
    }
    const past = await get('bytes=1000-');
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe('bytes */1000');
    for (const whole of ['bytes=0-1,5-6', 'items=0-1', 'bytes=9-2']) {
      const response = await get(whole);
      expect(response.status, whole).toBe(200);
      expect(response.body.equals(bytes)).toBe(true);
    }
    const linked = await download(app, file.url).set('Range', 'bytes=1-2');
    expect(linked.status).toBe(206);
    expect(linked.headers['accept-ranges']).toBe('bytes');
  });
});

describe('the cleanup job', () => {
  it('removes uploads never attached a day later, keeps attached ones, and runs on one instance at a time', async () => {
    const user = await newUser(app, 'forgetful');
    const forgotten = await uploaded(app, user, await png(8, 8), 'forgotten.png');
    const kept = await uploaded(app, user, Buffer.from('kept'), 'kept.txt');
    await sent(user, await newDirect(app, user, bob), [kept.id]);
    const keys = await keysOf(forgotten.id);
    const cleanup = app.app.get(AttachmentsCleanup);

    // Not yet a day.
    const hours = moveClock(23 * 60 * 60 * 1000);
    try {
      await cleanup.runOnce();
    } finally {
      hours.restore();
    }
    expect((await app.http().get(`/api/v1/attachments/${forgotten.id}`).set(user.auth)).status).toBe(200);

    const day = moveClock(25 * 60 * 60 * 1000);
    try {
      // Another instance holds the job's lock: this one skips its turn. (On PostgreSQL only: the
      // embedded database belongs to one instance, and serves all its connections as one session.)
      if (database) {
        const other = new pg.Client({ connectionString: database.url });
        await other.connect();
        try {
          await other.query('SELECT pg_advisory_lock(7261979)');
          expect(await cleanup.runOnce()).toMatchObject({ ran: false, expired: 0 });
          expect((await app.http().get(`/api/v1/attachments/${forgotten.id}`).set(user.auth)).status).toBe(200);
          await other.query('SELECT pg_advisory_unlock(7261979)');
        } finally {
          await other.end();
        }
      }
      const report = await cleanup.runOnce();
      expect(report.ran).toBe(true);
      expect(report.expired).toBeGreaterThanOrEqual(1);
    } finally {
      day.restore();
    }
    expect((await app.http().get(`/api/v1/attachments/${forgotten.id}`).set(user.auth)).status).toBe(404);
    expect(existsSync(storedFile(keys.storageKey))).toBe(false);
    expect((await app.http().get(`/api/v1/attachments/${kept.id}`).set(bob.auth)).status).toBe(200);
    expect((await rowsOf(user.id)).map((row) => row.id)).toEqual([kept.id]);
  });

  it('removes what a process that died while storing left behind: its row, its files, its staging file', async () => {
    const user = await newUser(app, 'crashed');
    const key = 'zz/crashed-upload';
    await db().query(`INSERT INTO attachments (uploader_id, filename, content_type, size, storage_key) VALUES ($1, 'x', 'text/plain', 1, $2)`, [user.id, key]);
    await mkdir(path.dirname(storedFile(key)), { recursive: true });
    await writeFile(storedFile(key), 'x');
    const leftover = path.join(app.config.storageDir, '.staging', 'left-by-a-crash');
    await writeFile(leftover, 'half');
    const old = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    await utimes(leftover, old, old);
    // Not visible while storing.
    const [{ id }] = await rowsOf(user.id);
    expect((await app.http().get(`/api/v1/attachments/${id}`).set(user.auth)).status).toBe(404);

    const hours = moveClock(2 * 60 * 60 * 1000);
    try {
      const report = await app.app.get(AttachmentsCleanup).runOnce();
      expect(report.staging).toBeGreaterThanOrEqual(1);
    } finally {
      hours.restore();
    }
    expect(await rowsOf(user.id)).toEqual([]);
    expect(existsSync(storedFile(key))).toBe(false);
    expect(existsSync(leftover)).toBe(false);
  });
});

describe('admin', () => {
  it('shows storage used in the stats', async () => {
    const before = await app.http().get('/api/v1/admin/stats').set(admin.auth);
    expect(before.status).toBe(200);
    await uploaded(app, alice, randomBytes(5000), 'counted.bin');
    const after = await app.http().get('/api/v1/admin/stats').set(admin.auth);
    expect(after.body.attachments).toBe(before.body.attachments + 1);
    expect(after.body.attachmentBytes).toBe(before.body.attachmentBytes + 5000);
  });

  it('removes an attachment from its message: members get message.updated, the file is gone', async () => {
    const [keep, drop] = [await uploaded(app, alice, Buffer.from('keep'), 'keep.txt'), await uploaded(app, alice, Buffer.from('drop'), 'drop.txt')];
    const message = await sent(alice, directId, [keep.id, drop.id], { body: 'moderated' });
    const socket = await TestSocket.connect(app.wsUrl, { token: bob.token });
    expect((await app.http().delete(`/api/v1/admin/attachments/${drop.id}`).set(bob.auth)).status).toBe(403);
    expect((await app.http().delete(`/api/v1/admin/attachments/${drop.id}`).set(admin.auth)).status).toBe(204);
    const frame = await socket.next(forMessage(message.id, 'message.updated'));
    socket.close();
    const read = await app.http().get(`/api/v1/messages/${message.id}`).set(bob.auth);
    expect(read.body).toMatchObject({ body: 'moderated', editedAt: null, changeSeq: (frame as { changeSeq: number }).changeSeq });
    expect(read.body.attachments.map((a: Attachment) => a.id)).toEqual([keep.id]);
    expect((await app.http().get(`/api/v1/attachments/${drop.id}`).set(alice.auth)).status).toBe(404);
    expect((await app.http().delete(`/api/v1/admin/attachments/${drop.id}`).set(admin.auth)).status).toBe(404);
    // Admins see attached files (moderation) through the message search.
    const search = await app.http().get(`/api/v1/admin/messages?conversationId=${directId}&limit=1`).set(admin.auth);
    expect(search.body.items[0].attachments[0].id).toBe(keep.id);
    expect((await download(app, search.body.items[0].attachments[0].url)).status).toBe(200);
  });

  it('removes an upload not yet attached', async () => {
    const file = await uploaded(app, alice, Buffer.from('loose'), 'loose.txt');
    expect((await app.http().delete(`/api/v1/admin/attachments/${file.id}`).set(admin.auth)).status).toBe(204);
    expect((await app.http().get(`/api/v1/attachments/${file.id}`).set(alice.auth)).status).toBe(404);
    expect((await sendWith(alice, directId, [file.id])).status).toBe(400);
    expect((await app.http().delete('/api/v1/admin/attachments/987654321').set(admin.auth)).status).toBe(404);
  });
});
