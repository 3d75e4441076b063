import { createHash, randomBytes } from 'node:crypto';
import { sha256 } from '../support/sha256';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import { downloadFile, uploadFile, type TransferProgress } from '../../src/client/file-transfer';
import type { UploadStatusResponse } from '../../src/gen/tinychat/v1/files';
import { eventually } from '../support/eventually';
import { FilesChannels } from '../support/files-channel';
import { WireClient, type WireStream } from '../support/grpc-client';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, NO_ABUSE_LIMIT_FLAGS, removeTempDirs } from '../support/test-server';

/** Writes `mib` MiB of random bytes to `path` a MiB at a time; resolves with their SHA-256. */
function writeRandomFile(path: string, mib: number): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mib; i++) {
      const block = randomBytes(1024 * 1024);
      hash.update(block);
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

/** Resident memory of a process in bytes, from /proc. */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

/** Samples `read` every 20 ms while `work` runs; resolves with work's value and the largest sample. */
async function peakWhile<T>(read: () => number, work: Promise<T>): Promise<{ value: T; peak: number }> {
  let peak = read();
  const timer = setInterval(() => (peak = Math.max(peak, read())), 20);
  try {
    const value = await work;
    return { value, peak: Math.max(peak, read()) };
  } finally {
    clearInterval(timer);
  }
}

describe('files with a tinychat serve process', function () {
  this.timeout(120_000);
  let server: ServerProcess | undefined;
  const clients: WireClient[] = [];
  const streams: WireStream[] = [];
  const channels = new FilesChannels();

  afterEach(async function () {
    for (const stream of streams.splice(0)) if (!stream.status) stream.cancel();
    for (const client of clients.splice(0)) client.close();
    channels.closeAll();
    await server?.stop('SIGKILL');
    server = undefined;
    removeTempDirs();
  });

  async function login(name: string): Promise<WireClient> {
    const client = new WireClient(server!.target);
    clients.push(client);
    await client.login(name);
    return client;
  }

  function uploadStatus(client: WireClient, request: { sha256: string; size: number }): Promise<UploadStatusResponse> {
    const channel = channels.open(server!.target, client.token);
    return new Promise((resolve, reject) =>
      channel.client.uploadStatus(request, channel.metadata, (err: ServiceError | null, value?: UploadStatusResponse) => (err ? reject(err) : resolve(value!))),
    );
  }

  it('resumes an upload cut by kill -9 of the server from the bytes it had stored, and the file arrives whole', async function () {
    const dir = makeTempDir();
    const dbPath = join(dir, 'chat.db');
    server = await startServerProcess({ dbPath, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    const port = server.port;
    const path = join(dir, 'artifact.bin');
    const sha256 = writeRandomFile(path, 48);
    const size = 48 * 1024 * 1024;
    let alice = await login('alice');
    await login('bob');

    const cut = uploadFile(channels.open(server.target, alice.token), path);
    cut.catch(() => undefined);
    const before = await eventually('part of the file stored', async () => {
      const state = await uploadStatus(alice, { sha256, size });
      return state.storedBytes >= 8 * 1024 * 1024 && state.storedBytes;
    }, 30_000);
    await server.stop('SIGKILL');
    const error = (await cut.then(() => undefined, (err: unknown) => err)) as { code: number } | undefined;
    expect(error, 'the cut upload fails').to.not.equal(undefined);
    expect(error!.code).to.equal(status.UNAVAILABLE);

    server = await startServerProcess({ dbPath, port, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    alice = await login('alice');
    const held = (await uploadStatus(alice, { sha256, size })).storedBytes;
    expect(held).to.be.at.least(before).and.below(size);
    const progress: TransferProgress[] = [];
    const file = await uploadFile(channels.open(server.target, alice.token), path, (p) => progress.push(p));
    expect(progress[0]).to.deep.equal({ done: held, total: size, moved: 0 });
    expect(progress.at(-1)!.moved).to.equal(size - held);

    const stream = alice.converse();
    streams.push(stream);
    stream.resume();
    stream.write({ kind: { $case: 'send', send: { clientId: 'big', receiver: 'bob', body: '', kind: 0, file } } });
    await stream.until('the receipt', (s) => s.receipts.length === 1, 10_000);
    const bob = await login('bob');
    const saveDir = makeTempDir();
    const saved = await downloadFile(channels.open(server.target, bob.token), stream.receipts[0].id, file, saveDir);
    expect(sha256File(saved)).to.equal(sha256);
  });

  it('resumes a download cut by kill -9 of the server from the end of the partial file', async function () {
    const dir = makeTempDir();
    const dbPath = join(dir, 'chat.db');
    server = await startServerProcess({ dbPath, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    const port = server.port;
    const path = join(dir, 'dump.bin');
    const sha256 = writeRandomFile(path, 64);
    const alice = await login('alice');
    let bob = await login('bob');
    const file = await uploadFile(channels.open(server.target, alice.token), path);
    const stream = alice.converse();
    streams.push(stream);
    stream.resume();
    stream.write({ kind: { $case: 'send', send: { clientId: 'dump', receiver: 'bob', body: '', kind: 0, file } } });
    await stream.until('the receipt', (s) => s.receipts.length === 1, 10_000);
    const id = stream.receipts[0].id;
    stream.cancel();

    const saveDir = makeTempDir();
    const partial = join(saveDir, 'dump.bin.part');
    let received = 0;
    const cut = downloadFile(channels.open(server.target, bob.token), id, file, saveDir, 'refuse', (p) => (received = p.done));
    cut.catch(() => undefined);
    await eventually('part of the download', () => received >= 8 * 1024 * 1024, 30_000);
    await server.stop('SIGKILL');
    const error = (await cut.then(() => undefined, (err: unknown) => err)) as { code: number } | undefined;
    expect(error, 'the cut download fails').to.not.equal(undefined);
    const kept = statSync(partial).size;
    expect(kept).to.be.above(0).and.below(file.size);

    server = await startServerProcess({ dbPath, port, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    bob = await login('bob');
    const progress: TransferProgress[] = [];
    const saved = await downloadFile(channels.open(server.target, bob.token), id, file, saveDir, 'refuse', (p) => progress.push(p));
    expect(progress[0]).to.deep.equal({ done: kept, total: file.size, moved: 0 });
    expect(progress.at(-1)!.moved).to.equal(file.size - kept);
    expect(sha256File(saved)).to.equal(sha256);
  });

  it('moves a 100 MiB file up and down with the server\'s and the client\'s memory staying flat', async function () {
    const dir = makeTempDir();
    server = await startServerProcess({ dbPath: join(dir, 'chat.db'), extraArgs: [...NO_ABUSE_LIMIT_FLAGS, '--max-file-mib', '200'] });
    const path = join(dir, 'big.bin');
    const sha256 = writeRandomFile(path, 100);
    const alice = await login('alice');
    await login('bob');
    const pid = server.child.pid!;
    const serverBefore = rssOf(pid);
    const clientBefore = process.memoryUsage().rss;

    const started = Date.now();
    const up = await peakWhile(() => rssOf(pid), uploadFile(channels.open(server.target, alice.token), path));
    const uploadSeconds = (Date.now() - started) / 1000;
    const stream = alice.converse();
    streams.push(stream);
    stream.resume();
    stream.write({ kind: { $case: 'send', send: { clientId: 'big', receiver: 'bob', body: '', kind: 0, file: up.value } } });
    await stream.until('the receipt', (s) => s.receipts.length === 1, 10_000);
    const bob = await login('bob');
    const saveDir = makeTempDir();
    const downStarted = Date.now();
    const down = await peakWhile(() => rssOf(pid), downloadFile(channels.open(server.target, bob.token), stream.receipts[0].id, up.value, saveDir));
    const downloadSeconds = (Date.now() - downStarted) / 1000;
    const clientAfter = process.memoryUsage().rss;

    const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    // eslint-disable-next-line no-console
    console.log(
      `      100 MiB: upload ${(100 / uploadSeconds).toFixed(0)} MiB/s, download ${(100 / downloadSeconds).toFixed(0)} MiB/s; ` +
        `server RSS ${mib(serverBefore)} MiB before, peak ${mib(up.peak)} MiB uploading, ${mib(down.peak)} MiB downloading; client RSS growth ${mib(clientAfter - clientBefore)} MiB`,
    );
    expect(sha256File(down.value)).to.equal(sha256);
    // Holding the file would take 100 MiB; chunks in flight and garbage not yet collected stay below 64 MiB (a 25 MiB file peaks within a few MiB of a 100 MiB one).
    expect(Math.max(up.peak, down.peak) - serverBefore).to.be.below(64 * 1024 * 1024);
    expect(clientAfter - clientBefore).to.be.below(64 * 1024 * 1024);
  });
});
