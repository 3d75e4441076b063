import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { ChatError } from '../chat/errors';
import { storeError } from '../store/postgres-errors';
import { inTransaction } from '../store/postgres-transaction';
import { mismatchError, offsetError } from './directory-blob-store';
import type { BlobStore, UploadKey, UploadState } from './blob-store';

/** Chunk rows read per query: about 1 MiB, whatever the file's size. */
const ROWS_PER_READ = 16;

/**
 * A BlobStore in the PostgreSQL database the nodes share (tables from
 * schema version 3, store/postgres-schema.ts), on the store's own pool.
 * Every node reads what any node received, and one backup (pg_dump) holds
 * messages and their files together.
 *
 * Each append is one transaction that adds a chunk row and moves the
 * upload's stored count under a row lock, so a resumed upload (even on
 * another node) starts exactly where the committed bytes end. `complete`
 * hashes the chunks in order, about 1 MiB per query, then copies them to the
 * contents table (once per SHA-256) in the same transaction that marks the
 * upload complete.
 */
export class PostgresBlobStore implements BlobStore {
  constructor(private readonly pool: Pool) {}

  private readonly onConnectionError = (): void => {};

  private async query<R extends QueryResultRow>(action: string, text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      throw storeError(action, err);
    }
  }

  async uploadState(key: UploadKey): Promise<UploadState> {
    const rows = await this.query<{ stored: number; complete: boolean }>(
      'read uploads',
      `SELECT stored, complete FROM file_uploads WHERE owner_id = $1 AND sha256 = $2`,
      [key.ownerId, key.sha256],
    );
    return rows[0] ? { stored: rows[0].stored, complete: rows[0].complete } : { stored: 0, complete: false };
  }

  append(key: UploadKey, offset: number, data: Uint8Array): Promise<number> {
    return inTransaction(
      this.pool,
      'store file uploads',
      async (client) => {
        const now = Date.now();
        await client.query(
          `INSERT INTO file_uploads (owner_id, sha256, size, updated_at) VALUES ($1, $2, 0, $3) ON CONFLICT DO NOTHING`,
          [key.ownerId, key.sha256, now],
        );
        const { rows } = await client.query<{ stored: number; complete: boolean }>(
          `SELECT stored, complete FROM file_uploads WHERE owner_id = $1 AND sha256 = $2 FOR UPDATE`,
          [key.ownerId, key.sha256],
        );
        if (rows[0].complete) throw new ChatError('failed-precondition', 'this upload is already complete — send the file message');
        if (rows[0].stored !== offset) throw offsetError(rows[0].stored, offset);
        const held = offset + data.length;
        if (data.length > 0) {
          await client.query(`INSERT INTO file_upload_chunks (owner_id, sha256, offset_bytes, data) VALUES ($1, $2, $3, $4)`, [
            key.ownerId,
            key.sha256,
            offset,
            Buffer.from(data.buffer, data.byteOffset, data.byteLength),
          ]);
        }
        await client.query(`UPDATE file_uploads SET stored = $3, size = $3, updated_at = $4 WHERE owner_id = $1 AND sha256 = $2`, [
          key.ownerId,
          key.sha256,
          held,
          now,
        ]);
        return held;
      },
      this.onConnectionError,
    );
  }

  async complete(key: UploadKey, size: number): Promise<void> {
    const state = await this.uploadState(key);
    if (state.complete) return;
    const kept = await this.blobSize(key.sha256);
    if (kept === undefined) {
      const hash = createHash('sha256');
      for await (const chunk of this.chunks('file_upload_chunks', 'owner_id = $1 AND sha256 = $2', [key.ownerId, key.sha256], 0)) hash.update(chunk);
      if (state.stored !== size || hash.digest('hex') !== key.sha256) {
        await this.discard(key);
        throw mismatchError(state.stored, size);
      }
    } else if (kept !== size) {
      throw mismatchError(size, kept);
    }
    await inTransaction(
      this.pool,
      'store files',
      async (client: PoolClient) => {
        const inserted = await client.query(`INSERT INTO file_blobs (sha256, size) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [key.sha256, size]);
        if (inserted.rowCount === 1) {
          await client.query(
            `INSERT INTO file_blob_chunks (sha256, offset_bytes, data)
             SELECT sha256, offset_bytes, data FROM file_upload_chunks WHERE owner_id = $1 AND sha256 = $2`,
            [key.ownerId, key.sha256],
          );
        }
        await client.query(`DELETE FROM file_upload_chunks WHERE owner_id = $1 AND sha256 = $2`, [key.ownerId, key.sha256]);
        await client.query(
          `INSERT INTO file_uploads (owner_id, sha256, size, stored, complete, updated_at) VALUES ($1, $2, $3, $3, true, $4)
           ON CONFLICT (owner_id, sha256) DO UPDATE SET size = $3, stored = $3, complete = true, updated_at = $4`,
          [key.ownerId, key.sha256, size, Date.now()],
        );
      },
      this.onConnectionError,
    );
  }

  async blobSize(sha256: string): Promise<number | undefined> {
    const rows = await this.query<{ size: number }>('read files', `SELECT size FROM file_blobs WHERE sha256 = $1`, [sha256]);
    return rows[0]?.size;
  }

  async *read(sha256: string, offset: number, maxChunk: number): AsyncIterable<Uint8Array> {
    for await (const chunk of this.chunks('file_blob_chunks', 'sha256 = $1', [sha256], offset)) {
      for (let at = 0; at < chunk.length; at += maxChunk) yield chunk.subarray(at, at + maxChunk);
    }
  }

  async usage(ownerId: number): Promise<number> {
    const rows = await this.query<{ total: number }>(
      'read uploads',
      `SELECT coalesce(sum(stored), 0)::bigint AS total FROM file_uploads WHERE owner_id = $1`,
      [ownerId],
    );
    return rows[0].total;
  }

  async close(): Promise<void> {
    // The pool belongs to the store, which closes it.
  }

  private async discard(key: UploadKey): Promise<void> {
    await inTransaction(
      this.pool,
      'discard file uploads',
      async (client) => {
        await client.query(`DELETE FROM file_upload_chunks WHERE owner_id = $1 AND sha256 = $2`, [key.ownerId, key.sha256]);
        await client.query(`DELETE FROM file_uploads WHERE owner_id = $1 AND sha256 = $2`, [key.ownerId, key.sha256]);
      },
      this.onConnectionError,
    );
  }

  // The bytes of one upload or one file from `offset`, in stored order, a
  // few rows per query (keyset paging on offset_bytes).
  private async *chunks(table: string, where: string, values: unknown[], offset: number): AsyncIterable<Buffer> {
    const next = values.length + 1;
    const first = await this.query<{ start: number }>(
      'read files',
      `SELECT coalesce(max(offset_bytes), 0)::bigint AS start FROM ${table} WHERE ${where} AND offset_bytes <= $${next}`,
      [...values, offset],
    );
    let from = first[0].start;
    let skip = offset - from;
    for (;;) {
      const rows = await this.query<{ offset: number; data: Buffer }>(
        'read files',
        `SELECT offset_bytes AS offset, data FROM ${table} WHERE ${where} AND offset_bytes >= $${next}
         ORDER BY offset_bytes LIMIT ${ROWS_PER_READ}`,
        [...values, from],
      );
      for (const row of rows) {
        const data = skip > 0 ? row.data.subarray(skip) : row.data;
        skip = 0;
        if (data.length > 0) yield data;
      }
      if (rows.length < ROWS_PER_READ) return;
      const last = rows[rows.length - 1];
      from = last.offset + last.data.length;
    }
  }
}
