import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChatError } from '../chat/errors';
import type { BlobStore, UploadKey, UploadState } from './blob-store';

/**
 * A BlobStore in a directory on one machine (next to the SQLite database):
 *
 *   blobs/ab/abcdef…      contents, named by SHA-256 (the same file sent twice is kept once)
 *   uploads/<owner>/<sha256>.part   bytes of an upload so far
 *   owned/<owner>/<sha256>          the owner completed this upload; holds its size
 *
 * An append is one write to the end of the .part file: once written it is in
 * the kernel's page cache and survives a kill -9, and after a restart the
 * file's length is the offset to resume at. Contents are flushed to disk
 * (fsync) before they are renamed into blobs/, so a kept file is whole even
 * after a power loss.
 */
export class DirectoryBlobStore implements BlobStore {
  /** Appends to one upload run one at a time, so two calls cannot interleave their bytes. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(readonly root: string) {}

  /** Creates the folders; call once before use. */
  async open(): Promise<this> {
    for (const dir of ['blobs', 'uploads', 'owned']) await mkdir(join(this.root, dir), { recursive: true });
    return this;
  }

  async uploadState(key: UploadKey): Promise<UploadState> {
    const owned = await sizeOf(this.ownedPath(key));
    if (owned !== undefined) return { stored: Number(await readFile(this.ownedPath(key), 'utf8')), complete: true };
    return { stored: (await sizeOf(this.partPath(key))) ?? 0, complete: false };
  }

  append(key: UploadKey, offset: number, data: Uint8Array): Promise<number> {
    return this.serially(key, async () => {
      if (await sizeOf(this.ownedPath(key)) !== undefined) {
        throw new ChatError('failed-precondition', 'this upload is already complete — send the file message');
      }
      const path = this.partPath(key);
      const held = (await sizeOf(path)) ?? 0;
      if (offset !== held) throw offsetError(held, offset);
      await mkdir(join(this.root, 'uploads', String(key.ownerId)), { recursive: true });
      const file = await open(path, 'a');
      try {
        await file.write(data);
      } finally {
        await file.close();
      }
      return held + data.length;
    });
  }

  complete(key: UploadKey, size: number): Promise<void> {
    return this.serially(key, async () => {
      if (await sizeOf(this.ownedPath(key)) !== undefined) return;
      const blob = this.blobPath(key.sha256);
      const kept = await sizeOf(blob);
      if (kept === undefined) {
        const part = this.partPath(key);
        const held = (await sizeOf(part)) ?? 0;
        const digest = held === size ? await sha256Of(part) : undefined;
        if (digest !== key.sha256) {
          await rm(part, { force: true });
          throw mismatchError(held, size);
        }
        const file = await open(part, 'r+');
        try {
          await file.sync();
        } finally {
          await file.close();
        }
        await mkdir(join(this.root, 'blobs', key.sha256.slice(0, 2)), { recursive: true });
        await rename(part, blob);
      } else {
        if (kept !== size) throw mismatchError(size, kept);
        await rm(this.partPath(key), { force: true });
      }
      await mkdir(join(this.root, 'owned', String(key.ownerId)), { recursive: true });
      await writeFile(this.ownedPath(key), String(size));
    });
  }

  async blobSize(sha256: string): Promise<number | undefined> {
    return sizeOf(this.blobPath(sha256));
  }

  async *read(sha256: string, offset: number, maxChunk: number): AsyncIterable<Uint8Array> {
    const stream = createReadStream(this.blobPath(sha256), { start: offset, highWaterMark: maxChunk });
    for await (const chunk of stream) yield chunk as Buffer;
  }

  async usage(ownerId: number): Promise<number> {
    let total = 0;
    for (const dir of ['owned', 'uploads']) {
      const folder = join(this.root, dir, String(ownerId));
      const names = await readdir(folder).catch(() => [] as string[]);
      for (const name of names) {
        const path = join(folder, name);
        total += dir === 'owned' ? Number(await readFile(path, 'utf8')) : ((await sizeOf(path)) ?? 0);
      }
    }
    return total;
  }

  async close(): Promise<void> {
    await Promise.all([...this.busy.values()].map((p) => p.catch(() => {})));
  }

  private serially<T>(key: UploadKey, work: () => Promise<T>): Promise<T> {
    const id = `${key.ownerId}/${key.sha256}`;
    const run = (this.busy.get(id) ?? Promise.resolve()).catch(() => {}).then(work);
    this.busy.set(id, run);
    void run.finally(() => {
      if (this.busy.get(id) === run) this.busy.delete(id);
    }).catch(() => {});
    return run;
  }

  private partPath(key: UploadKey): string {
    return join(this.root, 'uploads', String(key.ownerId), `${key.sha256}.part`);
  }

  private ownedPath(key: UploadKey): string {
    return join(this.root, 'owned', String(key.ownerId), key.sha256);
  }

  private blobPath(sha256: string): string {
    return join(this.root, 'blobs', sha256.slice(0, 2), sha256);
  }
}

/** Opens (creating its folders) a directory blob store at `root`. */
export function openDirectoryBlobStore(root: string): Promise<DirectoryBlobStore> {
  return new DirectoryBlobStore(root).open();
}

/** The refusal of an append that does not start where the held bytes end. */
export function offsetError(held: number, offset: number): ChatError {
  return new ChatError('failed-precondition', `the server holds ${held} bytes of this upload, not ${offset} — continue from byte ${held} (ask UploadStatus)`);
}

/** The refusal of an upload whose bytes are not the file it named. */
export function mismatchError(held: number, size: number): ChatError {
  const what = held === size ? 'their SHA-256 is not the one the upload named' : `${held} bytes arrived for a file of ${size}`;
  return new ChatError('invalid-argument', `the bytes received do not match the file: ${what}; the upload was discarded — send the file again`);
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
