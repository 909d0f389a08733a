import { rename, rm } from 'node:fs/promises';
import type { Metadata, Sharp, SharpInput, SharpOptions } from 'sharp';

/** A thumbnail's longer side, in pixels (the contract's "at most 320 px"). */
export const THUMBNAIL_MAX_SIDE = 320;

export interface ImageTask {
  /** The uploaded file, rewritten in place when its metadata is stripped. */
  file: string;
  /** Its sniffed type. */
  contentType: string;
  maxPixels: number;
  stripMetadata: boolean;
}

export interface ProcessedImage {
  /** As a viewer sees it: turned upright by its EXIF orientation. */
  width: number;
  height: number;
  /** The WebP thumbnail, written beside the file. */
  thumbnailPath: string;
  /** Whether the file was rewritten without its metadata. */
  stripped: boolean;
}

/** The image is refused (it cannot be read, or it is too large): the uploader's 400. */
export class ImageRefused extends Error {}

type SharpFactory = (input?: SharpInput, options?: SharpOptions) => Sharp;
let loading: Promise<SharpFactory> | undefined;

/**
 * sharp, loaded with the first image rather than at every start (its native library takes a
 * while to load). One libvips thread per image: concurrency is bounded by ImageProcessor's
 * queue instead. No operation cache: each file is read once.
 */
function loadSharp(): Promise<SharpFactory> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    sharp.concurrency(1);
    sharp.cache(false);
    return sharp;
  });
  return loading;
}

/**
 * Reads an image's size, strips its metadata (EXIF: GPS location, camera, time) and makes its
 * thumbnail, with sharp (libvips). Decompression bombs are refused from the header alone: an
 * image declaring more than `maxPixels` pixels is never decoded (and sharp's own
 * `limitInputPixels` stands behind that check in every decode).
 */
export async function processImage(task: ImageTask): Promise<ProcessedImage> {
  const { file, contentType, maxPixels } = task;
  const sharp = await loadSharp();
  // The header only: libvips reads the dimensions without decoding a pixel.
  const header = await readHeader(sharp, file);
  // Every frame of an animation counts.
  const pages = header.pages ?? 1;
  if (header.width * header.height * pages > maxPixels) {
    throw new ImageRefused(
      `The image is ${header.width} × ${header.height} pixels${pages > 1 ? ` in ${pages} frames` : ''}, more than the ${maxPixels} pixels an upload may have`,
    );
  }
  const open = (animated = false): Sharp => sharp(file, { limitInputPixels: maxPixels, failOn: 'error', animated, sequentialRead: true });
  const stripped = task.stripMetadata && hasMetadata(header);
  const thumbnailPath = `${file}.thumb`;
  try {
    if (stripped) {
      // Upright by its orientation, since the EXIF saying which way is up goes too; the
      // colour profile stays (not personal, and colours depend on it).
      const clean = `${file}.clean`;
      await reencode(open(pages > 1).autoOrient().keepIccProfile(), contentType).toFile(clean);
      await rename(clean, file);
    }
    await open()
      .autoOrient()
      .resize({ width: THUMBNAIL_MAX_SIDE, height: THUMBNAIL_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 75 })
      .toFile(thumbnailPath);
  } catch (error) {
    await Promise.all([rm(thumbnailPath, { force: true }), rm(`${file}.clean`, { force: true })]);
    throw new ImageRefused(`The image could not be read (${(error as Error).message})`);
  }
  const { width, height } = header.autoOrient ?? header;
  return { width, height, thumbnailPath, stripped };
}

async function readHeader(sharp: SharpFactory, file: string): Promise<Metadata & { width: number; height: number }> {
  let header: Metadata;
  try {
    header = await sharp(file, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ImageRefused(`The image could not be read (${(error as Error).message})`);
  }
  if (!header.width || !header.height) throw new ImageRefused('The image could not be read (it has no size)');
  return header as Metadata & { width: number; height: number };
}

function hasMetadata(header: Metadata): boolean {
  return Boolean(header.exif || header.xmp || header.iptc || (header.orientation && header.orientation !== 1));
}

/** The same format again, at a quality that does not show. */
function reencode(image: Sharp, contentType: string): Sharp {
  switch (contentType) {
    case 'image/jpeg':
      return image.jpeg({ quality: 92 });
    case 'image/png':
      return image.png();
    case 'image/webp':
      return image.webp({ quality: 92 });
    case 'image/gif':
      return image.gif();
    case 'image/avif':
      return image.avif({ quality: 70 });
    default:
      return image.tiff({ compression: 'lzw' });
  }
}
