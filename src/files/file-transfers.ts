import { ChatError } from '../chat/errors';
import { formatBytes } from './sizes';
import { safeFileName } from './safe-name';
import type { FileRef, Store, StoredMessage } from '../store/store';
import { isSha256Hex, type BlobStore, type UploadState } from './blob-store';
import { MAX_PREVIEW_FILE_BYTES, thumbnail, type Thumbnail } from './thumbnail';

/** The largest `data` of one upload or download chunk: within a 64 KiB gRPC message with room for the rest. */
export const MAX_CHUNK_BYTES = 60 * 1024;

/** Limits on files; each has a flag (config.ts). */
export interface FileLimits {
  /** The largest file, in bytes. */
  maxFileBytes: number;
  /** Bytes of files (complete and partial uploads) one user may hold; 0 for no limit. */
  quotaBytes: number;
  /** Upload calls one user may have open at once on one node; 0 for no limit. */
  uploadsPerUser: number;
}

export const DEFAULT_FILE_LIMITS: FileLimits = {
  maxFileBytes: 100 * 1024 * 1024,
  quotaBytes: 1024 * 1024 * 1024,
  uploadsPerUser: 4,
};

/** A file message the caller may download, and its bytes from the asked offset. */
export interface Download {
  message: StoredMessage;
  file: FileRef;
  chunks: AsyncIterable<Uint8Array>;
}

/**
 * Uploads and downloads of file contents, free of gRPC: limits, quota,
 * who may read what, and the check a file message passes before it is
 * stored. The bytes go to and come from a BlobStore; file messages
 * themselves travel the ordinary message path (chat/messaging.ts).
 */
export class FileTransfers {
  private readonly uploading = new Map<number, number>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly store: Store,
    readonly limits: FileLimits = DEFAULT_FILE_LIMITS,
  ) {}

  /**
   * How far the user's upload of this file is. Refuses a file over the size
   * limit, and one that would take the user past the quota.
   */
  async status(userId: number, sha256: string, size: number): Promise<UploadState> {
    checkSha256(sha256);
    if (size > this.limits.maxFileBytes) {
      throw new ChatError(
        'resource-exhausted',
        `the file is ${formatBytes(size)}; this server takes files up to ${formatBytes(this.limits.maxFileBytes)} — send a smaller one (or split it)`,
      );
    }
    const state = await this.blobs.uploadState({ ownerId: userId, sha256 });
    if (!state.complete && this.limits.quotaBytes > 0) {
      const used = await this.blobs.usage(userId);
      if (used - state.stored + size > this.limits.quotaBytes) {
        throw new ChatError(
          'resource-exhausted',
          `this file needs ${formatBytes(size)} but you have ${formatBytes(Math.max(0, this.limits.quotaBytes - used))} of your ${formatBytes(this.limits.quotaBytes)} left — ask the operator for more room`,
        );
      }
    }
    return state;
  }

  /** Counts one open upload of the user; call the returned function when it ends. */
  beginUpload(userId: number): () => void {
    const open = this.uploading.get(userId) ?? 0;
    const max = this.limits.uploadsPerUser;
    if (max > 0 && open >= max) {
      throw new ChatError('resource-exhausted', `you already have ${max} uploads in progress — wait for one to finish, then send again`);
    }
    this.uploading.set(userId, open + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.uploading.get(userId) ?? 1) - 1;
      if (left > 0) this.uploading.set(userId, left);
      else this.uploading.delete(userId);
    };
  }

  /** Refuses a chunk larger than MAX_CHUNK_BYTES. */
  checkChunk(data: Uint8Array): void {
    if (data.length > MAX_CHUNK_BYTES) {
      throw new ChatError('invalid-argument', `a chunk carries at most ${MAX_CHUNK_BYTES} bytes, this one ${data.length} — send smaller chunks`);
    }
  }

  /** Appends bytes (one or several chunks) of a file of `size` bytes at `offset`; resolves with the bytes now held. */
  async append(userId: number, sha256: string, size: number, offset: number, data: Uint8Array): Promise<number> {
    if (offset + data.length > size) {
      throw new ChatError('invalid-argument', `the upload goes past the file's size of ${size} bytes — check the size you gave`);
    }
    return this.blobs.append({ ownerId: userId, sha256 }, offset, data);
  }

  /** Completes the upload when all `size` bytes are held (checking its SHA-256); else says how far it is. */
  async finish(userId: number, sha256: string, size: number): Promise<UploadState> {
    const key = { ownerId: userId, sha256 };
    const state = await this.blobs.uploadState(key);
    if (state.complete || state.stored < size) return state;
    await this.blobs.complete(key, size);
    return { stored: size, complete: true };
  }

  /**
   * The check a file message passes before it is stored: a clean name, and
   * a complete upload of exactly this file by the sender. Resolves with the
   * FileRef to store (the name without folders).
   */
  async checkAttachment(userId: number, file: FileRef): Promise<FileRef> {
    checkSha256(file.sha256);
    const name = safeFileName(file.name);
    if (!name) throw new ChatError('invalid-argument', 'the file needs a name — give it one that is more than dots and slashes');
    if (Buffer.byteLength(name, 'utf8') > 255) throw new ChatError('invalid-argument', 'the file name is longer than 255 bytes — rename the file and send it again');
    if (file.mediaType && !/^[A-Za-z0-9][\w.+-]*\/[\w.+-]+$/.test(file.mediaType)) {
      throw new ChatError('invalid-argument', `"${file.mediaType.slice(0, 80)}" is not a media type — send something like image/png, or leave it empty`);
    }
    const state = await this.blobs.uploadState({ ownerId: userId, sha256: file.sha256 });
    if (!state.complete || state.stored !== file.size) {
      throw new ChatError('failed-precondition', 'the file has not been uploaded completely — upload it (Files.Upload) until UploadStatus says complete, then send');
    }
    return { name, size: file.size, sha256: file.sha256, mediaType: file.mediaType };
  }

  /** The bytes of a file message from `offset`, for its sender or receiver only. */
  async download(userId: number, messageId: number, offset: number): Promise<Download> {
    const message = await this.store.messageById(messageId);
    if (!message || !message.file || (message.senderId !== userId && message.receiverId !== userId)) {
      throw new ChatError('not-found', `there is no file message ${messageId} in your conversations — list them with /FILES`);
    }
    const file = message.file;
    if (offset > file.size) {
      throw new ChatError('invalid-argument', `the file has ${file.size} bytes; start a download at or before that, not at ${offset}`);
    }
    return { message, file, chunks: this.blobs.read(file.sha256, offset, MAX_CHUNK_BYTES) };
  }

  /** A small picture of an image file message, for its sender or receiver only (see files/thumbnail.ts). */
  async preview(userId: number, messageId: number, maxWidth: number, maxHeight: number): Promise<Thumbnail> {
    const { file, chunks } = await this.download(userId, messageId, 0);
    if (file.size > MAX_PREVIEW_FILE_BYTES) {
      throw new ChatError('invalid-argument', `the file is too large to preview here (${formatBytes(file.size)}) — save it with /SAVE instead`);
    }
    return thumbnail(chunks, maxWidth, maxHeight);
  }
}

function checkSha256(sha256: string): void {
  if (!isSha256Hex(sha256)) {
    throw new ChatError('invalid-argument', 'sha256 must be the file\'s SHA-256 as 64 lower-case hex digits (e.g. from sha256sum)');
  }
}
