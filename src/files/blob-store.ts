/**
 * Where the bytes of files live: a seam with two backends, a directory next
 * to the SQLite database (directory-blob-store.ts) and PostgreSQL itself
 * (postgres-blob-store.ts), which every node of a cluster reads. It knows
 * nothing of gRPC or of messages; which messages name which file is the
 * Store's business.
 *
 * The contract, checked for every backend by test/contract/blob-contract.ts:
 *
 * - Uploads are per owner and SHA-256: two users sending the same file each
 *   have their own upload, and their own bytes counted against their quota.
 * - `append` adds bytes at `offset`, which must be where the held bytes end
 *   (else ChatError 'failed-precondition' naming the right offset). When it
 *   resolves the bytes survive a kill -9 of the process: a restarted server
 *   resumes at the same offset.
 * - `complete` checks the held bytes: exactly `size` of them, whose SHA-256 is
 *   the key's. Then the contents are kept under their SHA-256, once however
 *   many owners send them, and the upload is complete (idempotent). On a
 *   mismatch the upload is discarded and it rejects with 'invalid-argument'.
 * - An owner's upload of a SHA-256 whose contents are already kept completes
 *   without any bytes being sent again.
 * - `read` yields the contents from `offset` in order, in pieces of at most
 *   `maxChunk` bytes, reading as it goes: memory does not grow with the file.
 * - Nothing is ever read whole into memory.
 */
export interface BlobStore {
  /** How far the owner's upload of `sha256` is. */
  uploadState(key: UploadKey): Promise<UploadState>;

  /** Appends `data` at `offset`; resolves with the bytes now held. */
  append(key: UploadKey, offset: number, data: Uint8Array): Promise<number>;

  /** Checks and keeps the upload (see above). */
  complete(key: UploadKey, size: number): Promise<void>;

  /** The size of the contents kept under `sha256`, or undefined. */
  blobSize(sha256: string): Promise<number | undefined>;

  /** The contents of `sha256` from `offset`, in pieces of at most `maxChunk` bytes. */
  read(sha256: string, offset: number, maxChunk: number): AsyncIterable<Uint8Array>;

  /** Bytes counted against the owner: completed uploads and partial ones. */
  usage(ownerId: number): Promise<number>;

  /** Releases what the store holds open. May be called more than once. */
  close(): Promise<void>;
}

/** One owner's upload of one file. */
export interface UploadKey {
  ownerId: number;
  /** 64 lower-case hex digits (callers validate it first). */
  sha256: string;
}

/** How far an upload is. */
export interface UploadState {
  /** Bytes held: where the next append starts. */
  stored: number;
  /** True once `complete` succeeded for this owner, or the owner's bytes are all held and checked. */
  complete: boolean;
}

/** True for 64 lower-case hex digits: the only SHA-256 spelling stores accept. */
export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}
