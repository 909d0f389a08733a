import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { ErrorCounter, sleep, summarize, type Summary } from '../clients.js';
import type { CommitProbeResult } from '../commit-probe.js';
import type { CpuUse } from '../cpu.js';
import type { BenchUser } from '../server.js';
import type { BenchContext } from './common.js';
import type { Pair } from './pairs.js';
import { paced, type PacedResult } from './throughput.js';

export interface UploadsResult {
  uploaders: number;
  imageBytes: number;
  imagePixels: string;
  /** Uploads answered 201 within the measured window. */
  uploads: number;
  uploadMegabytesPerSecond: number;
  uploadMs: Summary;
  /** The same bytes (one image per upload of the window) written by dd with conv=fdatasync, to the storage's file system. */
  disk: { bytes: number; seconds: number; megabytesPerSecond: number; error?: string };
  /** The text senders alone, right before, at the same paced rate. */
  sendersAlone: PacedResult;
  /** The same senders while the uploads run. */
  sendersWithUploads: PacedResult;
  errors: ReturnType<ErrorCounter['toJSON']>;
  databaseCommits?: CommitProbeResult;
  cpu?: CpuUse;
}

/**
 * Issue 28's uploads phase: `uploaders` clients each uploading 1 MiB photos (a JPEG with EXIF,
 * GPS included, so the server strips and re-encodes it as it would a phone's photo, and makes its
 * thumbnail) in closed loops, while 16 text senders post at the paced phase's rate. Their
 * notification latency is measured alone right before, then beside the uploads: the target is
 * at most twice the p99. The uploads' payload rate is set against the disk's own write rate in
 * the same run: `dd` writing the same bytes (one image per upload counted) with conv=fdatasync
 * into the server's STORAGE_DIR.
 */
export async function uploads(
  ctx: BenchContext,
  pairs: Pair[],
  uploaders: BenchUser[],
  senders: number,
  rate: number,
  storageDir: string,
): Promise<UploadsResult> {
  const image = await photo();
  const boundary = `----parley-bench-${randomBytes(6).toString('hex')}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="IMG_0001.JPG"\r\nContent-Type: image/jpeg\r\n\r\n`),
    image.bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: uploaders.length });
  const post = (user: BenchUser) =>
    new Promise<number>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port: ctx.api.port,
          path: '/api/v1/attachments',
          method: 'POST',
          agent,
          headers: { Authorization: `Bearer ${user.token}`, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': body.length },
          timeout: 60_000,
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('no answer within 60 s')));
      request.on('error', reject);
      request.end(body);
    });

  const sendersAlone = await paced(ctx, pairs, senders, rate);

  const errors = new ErrorCounter();
  const done: { start: number; end: number }[] = [];
  let running = true;
  const loops = uploaders.map(async (user) => {
    while (running) {
      const start = performance.now();
      try {
        const status = await post(user);
        if (status === 201) done.push({ start, end: performance.now() });
        else {
          errors.add(`POST /api/v1/attachments HTTP ${status}`);
          await sleep(100);
        }
      } catch (error) {
        errors.add('POST /api/v1/attachments network error', (error as Error).message);
        await sleep(100);
      }
    }
  });
  // The uploads run the whole of the senders' phase (its warm-up too): the senders' measured
  // window is the uploads' window.
  const phaseStart = performance.now();
  await sleep(500);
  const withUploads = paced(ctx, pairs, senders, rate);
  const measureStart = performance.now() + ctx.timing.warmupMs;
  const sendersWithUploads = await withUploads;
  const measureEnd = measureStart + ctx.timing.measureMs;
  running = false;
  await Promise.all(loops);
  agent.destroy();
  const measured = done.filter((upload) => upload.end >= measureStart && upload.end <= measureEnd);
  const window = (measureEnd - measureStart) / 1000;
  ctx.log(`uploads: ${done.length} in ${((performance.now() - phaseStart) / 1000).toFixed(1)} s, ${measured.length} in the measured window`);

  return {
    uploaders: uploaders.length,
    imageBytes: image.bytes.length,
    imagePixels: image.pixels,
    uploads: measured.length,
    uploadMegabytesPerSecond: (measured.length * image.bytes.length) / 2 ** 20 / window,
    uploadMs: summarize(measured.map((upload) => upload.end - upload.start)),
    disk: await ddSameBytes(image.bytes, Math.max(1, measured.length), storageDir),
    sendersAlone,
    sendersWithUploads,
    errors: errors.toJSON(),
  };
}

/** A photo of about 1 MiB as a phone makes it: a JPEG of noise with EXIF (camera, GPS position). */
async function photo(): Promise<{ bytes: Buffer; pixels: string }> {
  let width = 800;
  let bytes = Buffer.alloc(0);
  for (let attempt = 0; attempt < 4; attempt++) {
    const height = Math.round((width * 3) / 4);
    bytes = await sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 75 })
      .withExif({
        IFD0: { Make: 'BenchCam', Model: 'One' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 300/100' },
      })
      .toBuffer();
    if (Math.abs(bytes.length - 2 ** 20) < 2 ** 20 / 20) return { bytes, pixels: `${width} × ${height}` };
    width = Math.round(width * Math.sqrt(2 ** 20 / bytes.length));
  }
  return { bytes, pixels: `${width} × ${Math.round((width * 3) / 4)}` };
}

/** `dd` writes `copies` of `bytes` into `dir` with conv=fdatasync; the wall time includes the flush. */
async function ddSameBytes(bytes: Buffer, copies: number, dir: string): Promise<UploadsResult['disk']> {
  const target = path.join(dir, `dd-${process.pid}.tmp`);
  const total = bytes.length * copies;
  const started = performance.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const dd = spawn('dd', [`of=${target}`, 'bs=1M', 'iflag=fullblock', 'conv=fdatasync', 'status=none'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      dd.stderr.on('data', (chunk) => (stderr += chunk));
      dd.on('error', reject);
      dd.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dd exited with ${code}: ${stderr.trim()}`))));
      dd.stdin.on('error', reject);
      (async () => {
        for (let i = 0; i < copies; i++) {
          if (!dd.stdin.write(bytes)) await new Promise((drained) => dd.stdin.once('drain', drained));
        }
        dd.stdin.end();
      })().catch(reject);
    });
    const seconds = (performance.now() - started) / 1000;
    return { bytes: total, seconds, megabytesPerSecond: total / 2 ** 20 / seconds };
  } catch (error) {
    return { bytes: total, seconds: NaN, megabytesPerSecond: NaN, error: (error as Error).message };
  } finally {
    await rm(target, { force: true });
  }
}
