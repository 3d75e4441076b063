import { asChatError, ChatError } from '../chat/errors';
import { MAX_CHUNK_BYTES, type FileTransfers } from '../files/file-transfers';
import { writeOrWaitForDrain } from '../streams/write-or-drain';
import { FilesService, DownloadRequest, PreviewRequest, UploadChunk, UploadStatusRequest, type FilesServer } from '../gen/tinychat/v1/files';
import { bearerToken } from './auth';
import { RequestReader } from './service-definition';
import { toServiceError } from './status';
import { toWireFile } from './wire';
import { FileTransferMeter } from '../ops/file-transfer-meter';
import type { ServerMetrics } from '../ops/metrics';
import type { Accounts } from '../chat/accounts';
import type { Logger } from '../log';
import type { PeerLimiter } from './peer-limiter';
import type { Readiness } from './readiness';

/** The Files service as the server registers it: numbers past 2^53 and bad UTF-8 decode without throwing, as for Chat. */
export const filesServiceDefinition: typeof FilesService = {
  ...FilesService,
  uploadStatus: { ...FilesService.uploadStatus, requestDeserialize: (bytes: Buffer) => UploadStatusRequest.decode(new RequestReader(bytes)) },
  upload: { ...FilesService.upload, requestDeserialize: (bytes: Buffer) => UploadChunk.decode(new RequestReader(bytes)) },
  download: { ...FilesService.download, requestDeserialize: (bytes: Buffer) => DownloadRequest.decode(new RequestReader(bytes)) },
  preview: { ...FilesService.preview, requestDeserialize: (bytes: Buffer) => PreviewRequest.decode(new RequestReader(bytes)) },
};

/** Bytes an upload gathers before storing them in one append. */
const STORE_BYTES = 1024 * 1024;

/** Chunks received and not yet stored. */
class ChunkGatherer {
  private parts: Uint8Array[] = [];
  size = 0;

  /** Adds a chunk; returns the bytes gathered. */
  add(data: Uint8Array): number {
    if (data.length > 0) this.parts.push(data);
    this.size += data.length;
    return this.size;
  }

  /** Everything gathered, as one buffer; empties the gatherer. */
  take(): Uint8Array {
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    return all;
  }
}

/** What the Files edge needs. */
export interface FilesEdge {
  accounts: Accounts;
  transfers: FileTransfers;
  peers: PeerLimiter;
  readiness: Readiness;
  logger: Logger;
  metrics: ServerMetrics;
}

/**
 * The Files RPCs: authenticate, then hand chunks to FileTransfers. Upload
 * reads one chunk at a time and asks for the next only once the last is
 * stored, so HTTP/2 flow control holds a fast sender back; Download waits
 * for `drain` whenever grpc-js says its buffer is full. An upload holds at
 * most STORE_BYTES of its file (plus the chunk being read); a download at
 * most the 16 chunks grpc-js buffers before it says wait. Each transfer
 * reports to a FileTransferMeter: the bytes it holds, and when it ends.
 */
export function filesHandlers(edge: FilesEdge): FilesServer {
  const admit = async (call: { getPeer(): string; metadata: import('@grpc/grpc-js').Metadata }) => {
    edge.readiness.check();
    const release = edge.peers.enter(call.getPeer());
    try {
      return { caller: await edge.accounts.authenticate(bearerToken(call.metadata)), release };
    } catch (err) {
      release();
      throw err;
    }
  };
  const logged = (name: string, err: unknown): ChatError => {
    const error = asChatError(err);
    if (error.code === 'internal') edge.logger.error(name, { error: String(err) });
    return error;
  };

  return {
    uploadStatus: (call, callback) => {
      admit(call)
        .then(async ({ caller, release }) => {
          try {
            return await edge.transfers.status(caller.user.id, call.request.sha256, call.request.size);
          } finally {
            release();
          }
        })
        .then(
          (state) => callback(null, { storedBytes: state.stored, complete: state.complete, maxChunkBytes: MAX_CHUNK_BYTES }),
          (err: unknown) => callback(toServiceError(logged('upload-status-failed', err))),
        );
    },

    upload: (call, callback) => {
      // A client that goes away mid-upload: end the read loop below (what was stored stays).
      call.on('cancelled', () => call.destroy());
      let endUpload = () => {};
      let releasePeer = () => {};
      let meter: FileTransferMeter | undefined;
      (async () => {
        const admitted = await admit(call);
        releasePeer = admitted.release;
        const userId = admitted.caller.user.id;
        endUpload = edge.transfers.beginUpload(userId);
        const upload = new FileTransferMeter(edge.metrics, 'upload');
        meter = upload;
        let file: { sha256: string; size: number } | undefined;
        // Chunks are gathered up to STORE_BYTES and stored together: fewer
        // writes and transactions, and never more than that much held.
        const gathered = new ChunkGatherer();
        let held = 0;
        const store = async () => {
          if (!file) return;
          const data = gathered.take();
          let stored = false;
          try {
            held = await edge.transfers.append(userId, file.sha256, file.size, held, data);
            stored = true;
          } finally {
            upload.release(data.length, stored);
          }
        };
        try {
          for await (const chunk of call as AsyncIterable<UploadChunk>) {
            if (!file) {
              file = { sha256: chunk.sha256, size: chunk.size };
              const state = await edge.transfers.status(userId, file.sha256, file.size);
              if (state.complete) return state;
              held = chunk.offset;
            }
            edge.transfers.checkChunk(chunk.data);
            upload.hold(chunk.data.length);
            if (gathered.add(chunk.data) >= STORE_BYTES) await store();
          }
        } catch (err) {
          // The client went away or the stream broke: keep what arrived, so a resume starts after it.
          if (gathered.size > 0) await store().catch(() => undefined);
          throw err;
        }
        if (!file) throw new ChatError('invalid-argument', 'the upload sent no chunk — the first names sha256, size and offset');
        if (gathered.size > 0 || held === 0) await store();
        return edge.transfers.finish(userId, file.sha256, file.size);
      })().then(
        (state) => {
          endUpload();
          meter?.end();
          releasePeer();
          callback(null, { storedBytes: state.stored, complete: state.complete, maxChunkBytes: MAX_CHUNK_BYTES });
        },
        (err: unknown) => {
          endUpload();
          meter?.end();
          releasePeer();
          if (!call.cancelled) callback(toServiceError(logged('upload-failed', err)));
        },
      );
    },

    preview: (call, callback) => {
      admit(call)
        .then(async ({ caller, release }) => {
          try {
            return await edge.transfers.preview(caller.user.id, call.request.messageId, call.request.maxWidth, call.request.maxHeight);
          } finally {
            release();
          }
        })
        .then(
          (picture) => callback(null, { width: picture.width, height: picture.height, rgb: picture.rgb }),
          (err: unknown) => callback(toServiceError(logged('preview-failed', err))),
        );
    },

    download: (call) => {
      let meter: FileTransferMeter | undefined;
      // Over once every write has been passed on (finish), or the client went away.
      const endMeter = () => meter?.end();
      call.once('finish', endMeter);
      call.once('cancelled', endMeter);
      call.once('close', endMeter);
      (async () => {
        const { caller, release } = await admit(call);
        try {
          const download = await edge.transfers.download(caller.user.id, call.request.messageId, call.request.offset);
          const sending = new FileTransferMeter(edge.metrics, 'download');
          meter = sending;
          // Gone while its file was looked up: 'cancelled' came before there was a meter to end.
          if (call.cancelled) sending.end();
          let offset = call.request.offset;
          let first = true;
          const cancelled = new Promise<void>((resolve) => call.once('cancelled', resolve));
          for await (const data of download.chunks) {
            if (call.cancelled) return;
            const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
            // Held from the write until grpc-js has passed it on to the HTTP/2 stream.
            sending.hold(bytes.length);
            const full = writeOrWaitForDrain(call, { file: first ? toWireFile(download.file) : undefined, offset, data: bytes }, cancelled, (err) =>
              sending.release(bytes.length, !err),
            );
            first = false;
            offset += data.length;
            if (full) await full;
          }
          if (first) call.write({ file: toWireFile(download.file), offset, data: Buffer.alloc(0) });
          call.end();
        } finally {
          release();
        }
      })().catch((err: unknown) => {
        endMeter();
        if (!call.cancelled) call.emit('error', toServiceError(logged('download-failed', err)));
      });
    },
  };
}
