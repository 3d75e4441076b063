import { randomBytes } from 'node:crypto';
import { sha256 } from '../support/sha256';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import { downloadFile, uploadFile, type FilesChannel, type TransferProgress } from '../../src/client/file-transfer';
import { ClientError } from '../../src/client/errors';
import type { FileInfo } from '../../src/gen/tinychat/v1/chat';
import type { UploadStatusResponse } from '../../src/gen/tinychat/v1/files';
import { eventually } from '../support/eventually';
import { FilesChannels } from '../support/files-channel';
import { WireClients, type WireClient, type WireStream } from '../support/grpc-client';
import { makeTempDir, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';


function status_<T>(call: (cb: (err: ServiceError | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value as T))));
}

async function failure(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code: number; message: string };
  }
  expect.fail('expected a failure');
}

/** Streams `data` as one raw upload from `offset`, in pieces of `piece` bytes. */
function rawUpload(channel: FilesChannel, file: { sha256: string; size: number }, data: Buffer, offset = 0, piece = 60 * 1024): Promise<UploadStatusResponse> {
  return new Promise((resolve, reject) => {
    const call = channel.client.upload(channel.metadata, (err, response) => (err ? reject(err) : resolve(response!)));
    let first = true;
    for (let at = offset; at < data.length || first; at += piece) {
      call.write({ sha256: first ? file.sha256 : '', size: first ? file.size : 0, offset: first ? offset : 0, data: data.subarray(at, at + piece) });
      first = false;
    }
    call.end();
  });
}

describe('files', function () {
  this.timeout(60_000);
  let server: TestServer;
  const wire = new WireClients(() => server.target);
  const channels = new FilesChannels();
  let dir: string;

  beforeEach(async function () {
    server = await startTestServer({ fileLimits: { maxFileBytes: 8 * 1024 * 1024, quotaBytes: 12 * 1024 * 1024, uploadsPerUser: 2 } });
    dir = makeTempDir();
  });

  afterEach(async function () {
    wire.cancelStreams();
    channels.closeAll();
    await server.stop();
    wire.closeClients();
    removeTempDirs();
  });

  function filesOf(client: WireClient): FilesChannel {
    return channels.open(server.target, client.token);
  }

  function writeFile(name: string, bytes: Buffer): string {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  }

  async function sendFile(stream: WireStream, receiver: string, file: FileInfo, clientId: string, body = ''): Promise<void> {
    stream.write({ kind: { $case: 'send', send: { clientId, receiver, body, kind: 0, file } } });
    await stream.until(`the answer to ${clientId}`, (s) => s.receipts.some((r) => r.clientId === clientId) || s.errors.some((e) => e.clientId === clientId));
  }

  it('sends a file from one user to another: uploaded, checked, delivered as a message and saved byte for byte', async function () {
    const alice = await wire.user('alice');
    const bob = await wire.user('bob');
    const a = wire.open(alice);
    const b = wire.open(bob);
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const progress: TransferProgress[] = [];
    const file = await uploadFile(filesOf(alice), writeFile('build.tar', bytes), (p) => progress.push(p));
    expect(file).to.deep.equal({ name: 'build.tar', size: bytes.length, sha256: sha256(bytes), mediaType: 'application/x-tar' });
    expect(progress.at(-1)).to.deep.equal({ done: bytes.length, total: bytes.length, moved: bytes.length });

    await sendFile(a, 'bob', file, 'f1');
    expect(a.receipts[0].clientId).to.equal('f1');
    await b.until('the file message', (s) => s.messages.length === 1);
    const message = b.messages[0];
    expect(message.file).to.deep.equal(file);
    expect(message.body).to.equal('build.tar');

    const saveDir = makeTempDir();
    const saved = await downloadFile(filesOf(bob), message.id, message.file!, saveDir);
    expect(saved).to.equal(join(saveDir, 'build.tar'));
    expect(readFileSync(saved).equals(bytes)).to.equal(true);
  });

  it('delivers a file message in order among text messages, exactly once, to a receiver who was offline', async function () {
    const alice = await wire.user('alice');
    const bob = await wire.user('bob');
    const a = wire.open(alice);
    await a.until('ready', (s) => s.frames.length > 0);
    const file = await uploadFile(filesOf(alice), writeFile('note.txt', Buffer.from('hello file')));
    a.send('bob', 'before', 't1');
    await sendFile(a, 'bob', file, 'f1', 'the note');
    a.send('bob', 'after', 't2');
    await a.until('three receipts', (s) => s.receipts.length === 3);

    const b = wire.open(bob);
    await b.until('three messages', (s) => s.messages.length === 3);
    expect(b.messages.map((m) => [m.sequence, m.body, m.file?.name])).to.deep.equal([
      [1, 'before', undefined],
      [2, 'the note', 'note.txt'],
      [3, 'after', undefined],
    ]);
  });

  it('refuses an upload whose bytes do not match its SHA-256, and a file message for it', async function () {
    const alice = await wire.user('alice');
    await wire.user('bob');
    const a = wire.open(alice);
    const bytes = randomBytes(200_000);
    const claimed = { sha256: sha256(randomBytes(10)), size: bytes.length };
    const err = await failure(rawUpload(filesOf(alice), claimed, bytes));
    expect(err.code).to.equal(status.INVALID_ARGUMENT);
    expect(err.message).to.include('do not match the file').and.include('send the file again');

    await sendFile(a, 'bob', { name: 'x.bin', size: bytes.length, sha256: claimed.sha256, mediaType: '' }, 'f1');
    expect(a.receipts).to.have.length(0);
    expect(a.errors[0]).to.include({ code: status.FAILED_PRECONDITION, clientId: 'f1' });
    expect(a.errors[0].message).to.include('has not been uploaded completely');
  });

  it('lets only the conversation\'s members download a file; any other id is NOT_FOUND', async function () {
    const alice = await wire.user('alice');
    await wire.user('bob');
    const eve = await wire.user('eve');
    const a = wire.open(alice);
    const file = await uploadFile(filesOf(alice), writeFile('secret.txt', Buffer.from('for bob only')));
    await sendFile(a, 'bob', file, 'f1');
    const id = a.receipts[0].id;
    const stolen = await failure(downloadFile(filesOf(eve), id, file, makeTempDir()));
    expect(stolen.code).to.equal(status.NOT_FOUND);
    expect(stolen.message).to.include('/FILES');
    const guessed = await failure(downloadFile(filesOf(alice), id + 1000, file, makeTempDir()));
    expect(guessed.code).to.equal(status.NOT_FOUND);
  });

  it('resumes an upload cut off mid-way from the last stored byte', async function () {
    const alice = await wire.user('alice');
    const bytes = randomBytes(2 * 1024 * 1024);
    const half = bytes.subarray(0, 1024 * 1024);
    const key = { sha256: sha256(bytes), size: bytes.length };
    // The first run goes away (cancels) once half the bytes are stored.
    const channel = filesOf(alice);
    const cut = channel.client.upload(channel.metadata, () => undefined);
    for (let at = 0; at < half.length; at += 60 * 1024) {
      cut.write({ sha256: at === 0 ? key.sha256 : '', size: at === 0 ? key.size : 0, offset: 0, data: half.subarray(at, at + 60 * 1024) });
    }
    const askStatus = () => status_<UploadStatusResponse>((cb) => channel.client.uploadStatus(key, channel.metadata, cb));
    await eventually('half the bytes stored', async () => (await askStatus()).storedBytes === half.length);
    cut.cancel();
    expect(await askStatus()).to.include({ storedBytes: half.length, complete: false });

    const progress: TransferProgress[] = [];
    const file = await uploadFile(filesOf(alice), writeFile('big.bin', bytes), (p) => progress.push(p));
    expect(file.sha256).to.equal(key.sha256);
    expect(progress[0]).to.deep.equal({ done: half.length, total: bytes.length, moved: 0 });
    expect(progress.at(-1)).to.deep.equal({ done: bytes.length, total: bytes.length, moved: bytes.length - half.length });
  });

  it('resumes a download from the end of its partial file and checks the whole', async function () {
    const alice = await wire.user('alice');
    const bob = await wire.user('bob');
    const a = wire.open(alice);
    const bytes = randomBytes(1_500_000);
    const file = await uploadFile(filesOf(alice), writeFile('photo.png', bytes));
    await sendFile(a, 'bob', file, 'f1');
    const saveDir = makeTempDir();
    writeFileSync(join(saveDir, 'photo.png.part'), bytes.subarray(0, 1_000_000));
    const progress: TransferProgress[] = [];
    const saved = await downloadFile(filesOf(bob), a.receipts[0].id, file, saveDir, 'refuse', (p) => progress.push(p));
    expect(progress.at(-1)).to.deep.equal({ done: bytes.length, total: bytes.length, moved: 500_000 });
    expect(readFileSync(saved).equals(bytes)).to.equal(true);
  });

  it('removes a download whose bytes do not match the sender\'s SHA-256 and says so', async function () {
    const alice = await wire.user('alice');
    const bob = await wire.user('bob');
    const a = wire.open(alice);
    const bytes = randomBytes(300_000);
    const file = await uploadFile(filesOf(alice), writeFile('data.bin', bytes));
    await sendFile(a, 'bob', file, 'f1');
    const saveDir = makeTempDir();
    // A partial file from somewhere else: its first bytes are wrong.
    writeFileSync(join(saveDir, 'data.bin.part'), randomBytes(100_000));
    const err = await failure(downloadFile(filesOf(bob), a.receipts[0].id, file, saveDir));
    expect(err).to.be.instanceOf(ClientError);
    expect(err.code).to.equal(status.DATA_LOSS);
    expect(err.message).to.include('do not match the SHA-256');
    expect(() => statSync(join(saveDir, 'data.bin.part'))).to.throw();
    expect(() => statSync(join(saveDir, 'data.bin'))).to.throw();
  });

  it('strips folders from a sender\'s file name, and never overwrites a file when saving', async function () {
    const alice = await wire.user('alice');
    const bob = await wire.user('bob');
    const a = wire.open(alice);
    const b = wire.open(bob);
    const bytes = Buffer.from('export EVIL=1\n');
    const uploaded = await uploadFile(filesOf(alice), writeFile('rc', bytes));
    await sendFile(a, 'bob', { ...uploaded, name: '../../.bashrc' }, 'f1');
    await b.until('the file message', (s) => s.messages.length === 1);
    expect(b.messages[0].file!.name).to.equal('.bashrc');

    const saveDir = makeTempDir();
    // Even a name with folders that reached a client is saved inside the folder.
    const saved = await downloadFile(filesOf(bob), b.messages[0].id, { ...b.messages[0].file!, name: '../../.bashrc' }, saveDir);
    expect(saved).to.equal(join(saveDir, '.bashrc'));
    writeFileSync(saved, 'mine');
    const err = await failure(downloadFile(filesOf(bob), b.messages[0].id, b.messages[0].file!, saveDir));
    expect(err.code).to.equal(status.ALREADY_EXISTS);
    expect(readFileSync(saved, 'utf8')).to.equal('mine');
    await downloadFile(filesOf(bob), b.messages[0].id, b.messages[0].file!, saveDir, 'overwrite');
    expect(readFileSync(saved).equals(bytes)).to.equal(true);
  });

  it('refuses a file over the size limit, and one past the storage quota, before any byte moves', async function () {
    const alice = await wire.user('alice');
    const channel = filesOf(alice);
    const tooBig = await failure(status_((cb) => channel.client.uploadStatus({ sha256: 'a'.repeat(64), size: 8 * 1024 * 1024 + 1 }, channel.metadata, cb)));
    expect(tooBig.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(tooBig.message).to.include('up to 8.0 MiB');

    await uploadFile(channel, writeFile('one.bin', randomBytes(7 * 1024 * 1024)));
    const overQuota = await failure(uploadFile(channel, writeFile('two.bin', randomBytes(6 * 1024 * 1024))));
    expect(overQuota.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(overQuota.message).to.include('of your 12.0 MiB left');
  });

  it('refuses more uploads at once than a user may have in flight', async function () {
    const alice = await wire.user('alice');
    const channel = filesOf(alice);
    const open = [0, 1].map(() => channel.client.upload(channel.metadata, () => undefined));
    for (const [i, call] of open.entries()) call.write({ sha256: String(i).repeat(64), size: 10, offset: 0, data: Buffer.from('x') });
    // Both calls are counted once their first chunk is in; the third is one too many.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const third = await failure(rawUpload(channel, { sha256: '2'.repeat(64), size: 1 }, Buffer.from('y')));
    expect(third.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(third.message).to.include('2 uploads in progress');
    for (const call of open) call.cancel();
  });

  it('refuses a malformed SHA-256 and a chunk larger than the limit with INVALID_ARGUMENT', async function () {
    const alice = await wire.user('alice');
    const channel = filesOf(alice);
    const bad = await failure(status_((cb) => channel.client.uploadStatus({ sha256: 'xyz', size: 1 }, channel.metadata, cb)));
    expect(bad.code).to.equal(status.INVALID_ARGUMENT);
    expect(bad.message).to.include('64 lower-case hex digits');
    const oversized = await failure(rawUpload(channel, { sha256: 'b'.repeat(64), size: 70_000 }, Buffer.alloc(62 * 1024), 0, 62 * 1024));
    expect(oversized.code).to.equal(status.INVALID_ARGUMENT);
    expect(oversized.message).to.include('at most 61440 bytes');
    const unauthenticated = await failure(status_((cb) => channels.open(server.target, undefined).client.uploadStatus({ sha256: 'a'.repeat(64), size: 1 }, cb)));
    expect(unauthenticated.code).to.equal(status.UNAUTHENTICATED);
  });
});
