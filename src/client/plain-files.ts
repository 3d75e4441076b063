import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { safeFileName } from '../files/safe-name';
import { status as Status } from '@grpc/grpc-js';
import { splitArguments } from '../chat/command-line';
import { formatBytes } from '../files/sizes';
import type { Message } from '../gen/tinychat/v1/chat';
import type { ChatConnection } from './connection';
import { ClientError } from './errors';
import { downloadFile, uploadFile, type ExistingFile } from './file-transfer';
import { printable } from './format';
import { throttledProgress } from './transfer-progress';

/** What the line client's file commands need from it. */
export interface PlainFilesContext {
  connection: ChatConnection;
  /** The open conversation's peer, if any. */
  conversation(): string | undefined;
  say(line: string): void;
  complain(line: string): void;
  /** Asks a yes/no question; resolves with the next input line's answer. */
  ask(question: string): Promise<boolean>;
}

/**
 * /SEND and /SAVE in the line client, which run here rather than on the
 * server: bytes move between this machine's files and the Files service.
 * Progress goes to the error stream (a line a second), the outcome to the
 * output. Both run beside the input loop, so messages typed meanwhile are
 * sent at once. /FILES is the server's command.
 */
export class PlainFiles {
  private readonly running = new Set<Promise<void>>();
  /** Transfers that failed, for the exit code. */
  failures = 0;

  constructor(private readonly context: PlainFilesContext) {}

  /** True when `line` is one of the commands handled here. */
  static handles(line: string): boolean {
    return /^\/(SEND|SAVE)(\s|$)/i.test(line.trim());
  }

  /**
   * Starts the command of `line`. Resolves once it no longer needs the input
   * (a /SAVE that asks first has its answer); the transfer itself goes on in
   * the background.
   */
  async start(line: string): Promise<void> {
    const trimmed = line.trim();
    const name = trimmed.split(/\s+/, 1)[0].toUpperCase();
    const rest = trimmed.slice(name.length).trim();
    try {
      const transfer = name === '/SEND' ? this.send(rest) : (await this.save(rest)).transfer;
      this.track(transfer);
    } catch (err) {
      this.failed(err);
    }
  }

  private track(transfer: Promise<void>): void {
    const tracked = transfer.catch((err: unknown) => this.failed(err));
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
  }

  private failed(err: unknown): void {
    this.failures += 1;
    this.context.complain(`error: ${(err as Error).message}`);
  }

  /** Resolves when every transfer started so far has ended. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private async send(rest: string): Promise<void> {
    const [path] = rest.startsWith('"') ? splitArguments(rest) : [rest];
    if (!path) throw new ClientError('say which file to send: /SEND <path>', Status.INVALID_ARGUMENT);
    const peer = this.context.conversation();
    if (!peer) throw new ClientError('no conversation open — type /START <name> first, then /SEND <path>', Status.FAILED_PRECONDITION);
    const { connection, say, complain } = this.context;
    const label = printable(path);
    const file = await uploadFile(await connection.files(), path, throttledProgress((line) => complain(`sending ${label}: ${line}`)));
    const clientId = connection.send(peer, '', { file });
    await new Promise<void>((done, fail) => {
      const onReceipt = (receipt: { clientId: string }) => {
        if (receipt.clientId !== clientId) return;
        off();
        say(`sent ${printable(file.name)} (${formatBytes(file.size)}) to ${peer}`);
        done();
      };
      const onFailed = (failed: { clientId: string; reason: string }) => {
        if (failed.clientId !== clientId) return;
        off();
        fail(new ClientError(`${printable(file.name)} was uploaded but not sent: ${failed.reason}`, Status.FAILED_PRECONDITION));
      };
      const off = () => {
        connection.off('receipt', onReceipt);
        connection.off('send-failed', onFailed);
      };
      connection.on('receipt', onReceipt);
      connection.on('send-failed', onFailed);
    });
  }

  /** Finds the file and settles what to do with a name already taken (asking), then returns the download to run. */
  private async save(rest: string): Promise<{ transfer: Promise<void> }> {
    const args = splitArguments(rest);
    let index = 1;
    if (args.length > 0 && /^\d+$/.test(args[0])) index = Number(args.shift());
    const dir = resolve(args[0] ?? '.');
    if (args.length > 1) throw new ClientError('usage: /SAVE [n] [folder] — put quotes around a folder with spaces', Status.INVALID_ARGUMENT);
    const { connection, say, complain } = this.context;
    const response = await connection.command('/FILES');
    const files: Message[] = response.result?.$case === 'files' ? response.result.files.messages : [];
    const message = files[index - 1];
    if (!message?.file) {
      throw new ClientError(files.length === 0 ? 'there are no files in this conversation' : `there is no file ${index}: /FILES lists ${files.length}`, Status.NOT_FOUND);
    }
    const file = message.file;
    const target = join(dir, safeFileName(file.name) || `file-${message.id}`);
    let existing: ExistingFile = 'refuse';
    if (await exists(target)) {
      if (!(await this.context.ask(`${printable(target)} already exists — replace it? [y/N]`))) {
        say(`not saved: ${printable(target)} already exists`);
        return { transfer: Promise.resolve() };
      }
      existing = 'overwrite';
    }
    const transfer = (async () => {
      const progress = throttledProgress((line) => complain(`saving ${printable(file.name)}: ${line}`));
      const path = await downloadFile(await connection.files(), message.id, file, dir, existing, progress);
      say(`saved ${printable(path)} (${formatBytes(file.size)}, SHA-256 checked)`);
    })();
    return { transfer };
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
