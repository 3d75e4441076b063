import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { splitArguments } from '../../chat/command-line';
import { safeFileName } from '../../files/safe-name';
import { formatBytes } from '../../files/sizes';
import type { Message } from '../../gen/tinychat/v1/chat';
import type { PreviewResponse } from '../../gen/tinychat/v1/files';
import type { FileInfo } from '../../gen/tinychat/v1/chat';
import type { ChatConnection } from '../connection';
import { downloadFile, uploadFile, type TransferProgress } from '../file-transfer';
import type { ChatState } from './chat-state';

/** One upload or download the full-screen client shows a progress bar for. */
export interface Transfer {
  direction: 'up' | 'down';
  name: string;
  progress: TransferProgress;
  /** When it started (ms), for its rate. */
  startedAt: number;
}

/** A preview picture: width × height RGB pixels. */
export interface PreviewImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Largest preview asked of the server: 32 columns × 12 rows of half blocks. */
const PREVIEW_WIDTH = 32;
const PREVIEW_HEIGHT = 24;
/** Redraws for progress at most this often. */
const PROGRESS_EVERY_MS = 100;
/** How long a second identical /SAVE counts as "yes, replace it". */
const REPLACE_CONFIRM_MS = 15_000;

/**
 * The full-screen client's files, without screen code: /SEND and /SAVE run
 * here beside the stream, each with a Transfer the view draws as a progress
 * bar, and image file messages get a preview picture fetched from the
 * server (Files.Preview) for the timeline to draw. Outcomes and errors are
 * notices in the conversation.
 */
export class FileBoard {
  readonly transfers: Transfer[] = [];
  /** Changes whenever a preview arrives (the view re-lays timelines by it). */
  revision = 0;
  private readonly previews = new Map<number, PreviewImage | 'loading' | 'failed'>();
  private replaceArmed: { line: string; until: number } | undefined;

  constructor(
    private readonly connection: ChatConnection,
    private readonly state: ChatState,
    private readonly clock: () => number = Date.now,
  ) {}

  /** /SEND <path>: uploads the file, then sends the file message to the conversation shown. */
  async send(rest: string): Promise<void> {
    const conversation = this.state.current;
    const path = (rest.trim().startsWith('"') ? splitArguments(rest)[0] : rest.trim()) ?? '';
    if (!path) return this.state.notify('say which file to send: /SEND <path> (Tab completes local paths)', 'error');
    if (!conversation) return this.state.notify('no conversation is open — type /START <name> first, then /SEND <path>', 'error');
    const peer = conversation.peer;
    try {
      const file = await this.track('up', path, (progress) => this.connection.files().then((channel) => uploadFile(channel, path, progress)));
      const clientId = this.connection.send(peer, '', { file });
      this.state.sending(peer, clientId, file.name, new Date(this.clock()), false, file);
    } catch (err) {
      this.state.notify(`${path} not sent: ${(err as Error).message}`, 'error', conversation);
    }
  }

  /** /SAVE [n] [folder]: downloads file n of /FILES (1: the newest), asking before replacing a file. */
  async save(rest: string): Promise<void> {
    const args = splitArguments(rest);
    const index = args.length > 0 && /^\d+$/.test(args[0]) ? Number(args.shift()) : 1;
    const dir = resolve(args[0] ?? '.');
    const conversation = this.state.current;
    try {
      const response = await this.connection.command('/FILES');
      const files: Message[] = response.result?.$case === 'files' ? response.result.files.messages : [];
      const message = files[index - 1];
      if (!message?.file) {
        this.state.notify(files.length === 0 ? 'there are no files in this conversation' : `there is no file ${index}: /FILES lists ${files.length}`, 'error');
        return;
      }
      const file = message.file;
      const target = join(dir, safeFileName(file.name) || `file-${message.id}`);
      const line = `${index} ${dir}`;
      let replace = false;
      if (await exists(target)) {
        const armed = this.replaceArmed;
        if (!armed || armed.line !== line || armed.until < this.clock()) {
          this.replaceArmed = { line, until: this.clock() + REPLACE_CONFIRM_MS };
          this.state.notify(`${target} already exists — type the same /SAVE again to replace it, or save into another folder`, 'error');
          return;
        }
        replace = true;
      }
      this.replaceArmed = undefined;
      const path = await this.track('down', file.name, (progress) =>
        this.connection.files().then((channel) => downloadFile(channel, message.id, file, dir, replace ? 'overwrite' : 'refuse', progress)),
      );
      this.state.notify(`saved ${path} (${formatBytes(file.size)}, SHA-256 checked)`, 'info', conversation);
    } catch (err) {
      this.state.notify(`not saved: ${(err as Error).message}`, 'error', conversation);
    }
  }

  /** Asks the server for a preview of an image file message, once. */
  requestPreview(message: Message): void {
    if (!message.file || !isImage(message.file) || this.previews.has(message.id)) return;
    this.previews.set(message.id, 'loading');
    this.connection
      .files()
      .then(
        (channel) =>
          new Promise<PreviewResponse>((done, fail) =>
            channel.client.preview({ messageId: message.id, maxWidth: PREVIEW_WIDTH, maxHeight: PREVIEW_HEIGHT }, channel.metadata, (err, value) =>
              err ? fail(err) : done(value!),
            ),
          ),
      )
      .then(
        (picture) => this.previews.set(message.id, { width: picture.width, height: picture.height, rgb: picture.rgb }),
        () => this.previews.set(message.id, 'failed'),
      )
      .finally(() => {
        this.revision += 1;
        this.state.changed();
      });
  }

  /** The preview of message `id`, once it arrived. */
  preview(id: number | undefined): PreviewImage | undefined {
    const found = id === undefined ? undefined : this.previews.get(id);
    return typeof found === 'object' ? found : undefined;
  }

  private async track<T>(direction: Transfer['direction'], name: string, work: (progress: (p: TransferProgress) => void) => Promise<T>): Promise<T> {
    const transfer: Transfer = { direction, name, progress: { done: 0, total: 0, moved: 0 }, startedAt: this.clock() };
    this.transfers.push(transfer);
    let drawn = 0;
    this.state.changed();
    try {
      return await work((progress) => {
        transfer.progress = progress;
        const now = this.clock();
        if (now - drawn >= PROGRESS_EVERY_MS || progress.done >= progress.total) {
          drawn = now;
          this.state.changed();
        }
      });
    } finally {
      this.transfers.splice(this.transfers.indexOf(transfer), 1);
      this.state.changed();
    }
  }
}

/** True for the media types a preview is asked for. */
export function isImage(file: FileInfo): boolean {
  return /^image\//.test(file.mediaType);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
