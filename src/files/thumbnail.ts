import { Readable } from 'node:stream';
import sharp from 'sharp';
import { ChatError } from '../chat/errors';

/** The largest preview side, in pixels. */
export const MAX_PREVIEW_SIDE = 64;
/** Images with more pixels than this are refused rather than decoded (decompression bombs). */
export const MAX_IMAGE_PIXELS = 50_000_000;
/** Files larger than this are not decoded for a preview. */
export const MAX_PREVIEW_FILE_BYTES = 64 * 1024 * 1024;
/** A decode that takes longer than this is stopped. */
const DECODE_TIMEOUT_SECONDS = 10;

/** A small picture, raw RGB, row by row. */
export interface Thumbnail {
  width: number;
  height: number;
  rgb: Buffer;
}

/**
 * A picture of at most `maxWidth` × `maxHeight` pixels of the image whose
 * bytes arrive from `bytes`, decoded by sharp (libvips) as they stream in, on
 * its own threads: the event loop never waits for it. Whatever the image
 * claims, more than MAX_IMAGE_PIXELS is refused before decoding, and a
 * decode is stopped after a few seconds. Anything sharp cannot read
 * (truncated, corrupt, not an image whatever its name) is a ChatError
 * 'invalid-argument'.
 */
export async function thumbnail(bytes: AsyncIterable<Uint8Array>, maxWidth: number, maxHeight: number): Promise<Thumbnail> {
  const width = clampSide(maxWidth);
  const height = clampSide(maxHeight);
  const pipeline = sharp({ limitInputPixels: MAX_IMAGE_PIXELS, sequentialRead: true, failOn: 'error', animated: false })
    .timeout({ seconds: DECODE_TIMEOUT_SECONDS })
    .rotate()
    .resize(width, height, { fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#000000' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw();
  const source = Readable.from(bytes);
  source.on('error', (err) => pipeline.destroy(err));
  source.pipe(pipeline);
  try {
    const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, rgb: data };
  } catch (err) {
    source.destroy();
    throw new ChatError('invalid-argument', `this file is not an image the server can preview (${reason(err)}) — save it with /SAVE instead`);
  }
}

function clampSide(value: number): number {
  return value > 0 ? Math.min(value, MAX_PREVIEW_SIDE) : MAX_PREVIEW_SIDE;
}

function reason(err: unknown): string {
  const message = (err as Error).message ?? String(err);
  if (/pixel limit/i.test(message)) return `more than ${MAX_IMAGE_PIXELS / 1_000_000} million pixels`;
  if (/unsupported image format/i.test(message)) return 'not a known image format';
  if (/timeout/i.test(message)) return 'it took too long to decode';
  return message.split('\n')[0].replace(/^(Input buffer|Input file|VipsJpeg|VipsPng|pngload|jpegload)[^:]*:\s*/i, '').slice(0, 120);
}
