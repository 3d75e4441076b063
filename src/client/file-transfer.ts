import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { status as Status, type ClientReadableStream, type Metadata } from '@grpc/grpc-js';
import { safeFileName } from '../files/safe-name';
import { writeOrWaitForDrain } from '../streams/write-or-drain';
import type { DownloadChunk, FilesClient, UploadStatusResponse } from '../gen/tinychat/v1/files';
import type { FileInfo } from '../gen/tinychat/v1/chat';
import { ClientError, toClientError } from './errors';

/** Progress of one transfer: bytes done of the total, and how many of them this run moved. */
export interface TransferProgress {
  done: number;
  total: number;
  /** Bytes this run moved (the rest were there already: a resumed transfer). */
  moved: number;
}

/** A Files client and the metadata (token) to call it with. */
export interface FilesChannel {
  client: FilesClient;
  metadata: Metadata;
}

const MEDIA_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.txt': 'text/plain',
  '.log': 'text/plain',
  '.md': 'text/markdown',
  '.json': 'application/json',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
};

/** The media type of a file name's extension, or '' when unknown. */
export function mediaTypeOf(name: string): string {
  return MEDIA_TYPES[extname(name).toLowerCase()] ?? '';
}

/** SHA-256 of a file as 64 hex digits, read in pieces. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: 1 << 16 })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

function unary<T>(call: (callback: (err: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value as T))));
}

/**
 * Uploads the file at `path` (its SHA-256 computed first) and resolves with
 * the FileInfo to send once the server holds it whole and checked. An upload
 * the server already holds part of continues from where that part ends; one
 * it holds completely (this user sent the same file before) sends nothing.
 * Reads the file in chunks of the server's size and writes each when the
 * call can take it, so memory does not grow with the file.
 */
export async function uploadFile(channel: FilesChannel, path: string, onProgress?: (progress: TransferProgress) => void): Promise<FileInfo> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ClientError(`${path} is not a file — /SEND takes the path of a file`, Status.INVALID_ARGUMENT);
    size = info.size;
  } catch (err) {
    if (err instanceof ClientError) throw err;
    throw new ClientError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} — check the path`, Status.INVALID_ARGUMENT);
  }
  const sha256 = await sha256OfFile(path);
  const name = basename(path);
  const file: FileInfo = { name, size, sha256, mediaType: mediaTypeOf(name) };
  // A cut upload may still be storing its last bytes when the next one
  // starts; the server then names the offset it holds, and we ask again.
  for (let attempt = 1; ; attempt++) {
    try {
      const state = await unary<UploadStatusResponse>((cb) => channel.client.uploadStatus({ sha256, size }, channel.metadata, cb));
      if (state.complete) {
        onProgress?.({ done: size, total: size, moved: 0 });
        return file;
      }
      const from = state.storedBytes;
      onProgress?.({ done: from, total: size, moved: 0 });
      const finished = await sendBytes(channel, path, file, from, state.maxChunkBytes || 60 * 1024, onProgress);
      if (!finished.complete) {
        throw new ClientError(`the server holds ${finished.storedBytes} of ${size} bytes — send the file again to continue`, Status.UNAVAILABLE);
      }
      return file;
    } catch (err) {
      const error = toClientError(err, 'the server');
      if (error.code !== Status.FAILED_PRECONDITION || attempt >= 3 || !/continue from byte/.test(error.message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

async function sendBytes(
  channel: FilesChannel,
  path: string,
  file: FileInfo,
  from: number,
  chunkBytes: number,
  onProgress?: (progress: TransferProgress) => void,
): Promise<UploadStatusResponse> {
  let resolveDone!: (value: UploadStatusResponse) => void;
  let rejectDone!: (err: Error) => void;
  const done = new Promise<UploadStatusResponse>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const call = channel.client.upload(channel.metadata, (err, response) => (err ? rejectDone(err) : resolveDone(response!)));
  let offset = from;
  let first = true;
  const header = () => (first ? { sha256: file.sha256, size: file.size, offset: from } : { sha256: '', size: 0, offset: 0 });
  const reader = createReadStream(path, { start: from, highWaterMark: chunkBytes });
  try {
    for await (const piece of reader) {
      const data = piece as Buffer;
      const full = writeOrWaitForDrain(call, { ...header(), data }, done);
      first = false;
      offset += data.length;
      onProgress?.({ done: offset, total: file.size, moved: offset - from });
      if (full) await full;
    }
    if (first) call.write({ ...header(), data: Buffer.alloc(0) });
    call.end();
  } catch (err) {
    call.cancel();
    reader.destroy();
    await done.catch(() => undefined);
    throw err;
  }
  return done;
}

/** What /SAVE does with a name that is already taken in the folder. */
export type ExistingFile = 'refuse' | 'overwrite';

/**
 * Downloads the file of message `messageId` into `dir`, under the sender's
 * file name without any folders. Bytes go to "<name>.part" first; a .part
 * left by an earlier, cut download is continued from its end. When all
 * bytes are in, their SHA-256 is checked against the one the sender's
 * client computed; only a match is renamed into place. An existing file
 * is never replaced unless `existing` is 'overwrite'. Resolves with the path.
 */
export async function downloadFile(
  channel: FilesChannel,
  messageId: number,
  file: FileInfo,
  dir: string,
  existing: ExistingFile = 'refuse',
  onProgress?: (progress: TransferProgress) => void,
): Promise<string> {
  const name = safeFileName(file.name) || `file-${messageId}`;
  const target = join(dir, name);
  if (existing === 'refuse' && (await exists(target))) {
    throw new ClientError(`${target} already exists — choose another folder, or answer yes to replace it`, Status.ALREADY_EXISTS);
  }
  const partial = `${target}.part`;
  let from = (await exists(partial)) ? (await stat(partial)).size : 0;
  if (from > file.size) {
    await rm(partial, { force: true });
    from = 0;
  }
  onProgress?.({ done: from, total: file.size, moved: 0 });
  if (from < file.size) {
    const call = channel.client.download({ messageId, offset: from }, channel.metadata);
    await receiveBytes(call, partial, from, file.size, onProgress).catch((err: unknown) => {
      throw toClientError(err, 'the server');
    });
  } else if (from === 0) {
    // An empty file: nothing to fetch, but the file is made.
    await new Promise<void>((resolve, reject) => createWriteStream(partial).on('error', reject).end(resolve));
  }
  const digest = await sha256OfFile(partial);
  if (digest !== file.sha256) {
    await rm(partial, { force: true });
    throw new ClientError(
      `the downloaded bytes of ${name} do not match the SHA-256 its sender computed — the partial file was removed; /SAVE it again`,
      Status.DATA_LOSS,
    );
  }
  await rename(partial, target);
  return target;
}

async function receiveBytes(
  call: ClientReadableStream<DownloadChunk>,
  partial: string,
  from: number,
  total: number,
  onProgress?: (progress: TransferProgress) => void,
): Promise<void> {
  const out = createWriteStream(partial, { flags: from > 0 ? 'a' : 'w' });
  const outFailed = new Promise<never>((_, reject) => out.once('error', reject));
  let offset = from;
  try {
    for await (const chunk of call as AsyncIterable<DownloadChunk>) {
      if (chunk.offset !== offset) throw new ClientError(`the server sent bytes from ${chunk.offset}, expected ${offset} — /SAVE again`, Status.DATA_LOSS);
      if (chunk.data.length === 0) continue;
      offset += chunk.data.length;
      if (offset > total) throw new ClientError('the server sent more bytes than the file has — /SAVE again', Status.DATA_LOSS);
      const full = writeOrWaitForDrain(out, chunk.data, outFailed);
      if (full) await full;
      onProgress?.({ done: offset, total, moved: offset - from });
    }
  } catch (err) {
    call.cancel();
    throw err;
  } finally {
    await new Promise<void>((resolve) => out.end(resolve));
  }
  if (offset !== total) throw new ClientError(`the download stopped at ${offset} of ${total} bytes — /SAVE again to continue`, Status.UNAVAILABLE);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
