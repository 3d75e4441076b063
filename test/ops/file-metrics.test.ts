import { randomBytes } from 'node:crypto';
import { sha256 } from '../support/sha256';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { downloadFile, uploadFile, type FilesChannel } from '../../src/client/file-transfer';
import type { DownloadChunk, UploadStatusResponse } from '../../src/gen/tinychat/v1/files';
import { listenForMetrics } from '../../src/ops/metrics-endpoint';
import type { MetricsEndpoint } from '../../src/ops/metrics';
import { eventually } from '../support/eventually';
import { FilesChannels } from '../support/files-channel';
import { WireClients, type WireClient, type WireStream } from '../support/grpc-client';
import { scrapeMetrics, value, type Scrape } from '../support/metrics-scrape';
import { makeTempDir, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

const UP = '{direction="upload"}';
const DOWN = '{direction="download"}';


describe('file transfer metrics', function () {
  this.timeout(60_000);
  let server: TestServer | undefined;
  let endpoint: MetricsEndpoint | undefined;
  const wire = new WireClients(() => server!.target);
  const channels = new FilesChannels();
  const downloads: ClientReadableStream<DownloadChunk>[] = [];

  beforeEach(async () => {
    endpoint = await listenForMetrics('127.0.0.1', 0);
    server = await startTestServer({ metrics: endpoint, fileLimits: { maxFileBytes: 16 * 1024 * 1024, quotaBytes: 32 * 1024 * 1024 } });
  });

  afterEach(async () => {
    for (const call of downloads.splice(0)) call.cancel();
    wire.cancelStreams();
    channels.closeAll();
    await server?.stop();
    wire.closeClients();
    server = undefined;
    endpoint = undefined;
    removeTempDirs();
  });

  const scrape = (): Promise<Scrape> => scrapeMetrics(endpoint!.address);
  const filesOf = (client: WireClient): FilesChannel => channels.open(server!.target, client.token);

  /** Uploads `bytes` as a file and sends it from `from` to `to`; resolves with the message id. */
  async function sendFile(from: WireClient, stream: WireStream, to: string, name: string, bytes: Buffer): Promise<number> {
    const path = join(makeTempDir(), name);
    writeFileSync(path, bytes);
    const file = await uploadFile(filesOf(from), path);
    stream.write({ kind: { $case: 'send', send: { clientId: name, receiver: to, body: '', kind: 0, file } } });
    await stream.until(`the receipt of ${name}`, (s) => s.receipts.some((r) => r.clientId === name));
    return stream.receipts.find((r) => r.clientId === name)!.id;
  }

  /** Waits until no transfer is in progress, then returns that scrape. */
  async function idle(): Promise<Scrape> {
    let last: Scrape | undefined;
    await eventually('no file transfer in progress', async () => {
      last = await scrape();
      return value(last, `tinychat_file_transfers${UP}`) === 0 && value(last, `tinychat_file_transfers${DOWN}`) === 0;
    });
    return last!;
  }

  /**
   * alice sends bob an 8 MiB file; bob starts its download, then stops
   * reading, so HTTP/2 flow control stops the connection and the server's
   * writes wait. Resolves with the file's bytes, the paused call and the
   * bytes received so far. (The reader must have started: a grpc-js call
   * paused before its first read takes in everything the server sends.)
   */
  async function pausedDownload(name: string): Promise<{ bytes: Buffer; call: ClientReadableStream<DownloadChunk>; received: () => number }> {
    const alice = await wire.user('alice');
    const bob = await wire.user('bob');
    const a = wire.open(alice);
    await a.until('ready', (s) => s.frames.length > 0);
    const bytes = randomBytes(8 * 1024 * 1024);
    const id = await sendFile(alice, a, 'bob', name, bytes);
    await idle();
    const channel = filesOf(bob);
    const call = channel.client.download({ messageId: id, offset: 0 }, channel.metadata);
    downloads.push(call);
    let received = 0;
    call.on('data', (chunk: DownloadChunk) => (received += chunk.data.length));
    call.pause();
    return { bytes, call, received: () => received };
  }

  it('starts with every file series at 0 in both directions', async () => {
    const first = await scrape();
    for (const name of ['tinychat_file_transfers', 'tinychat_file_bytes_in_flight', 'tinychat_file_bytes_total']) {
      expect(value(first, `${name}${UP}`)).to.equal(0, name);
      expect(value(first, `${name}${DOWN}`)).to.equal(0, name);
    }
  });

  it('counts the bytes of uploaded and downloaded files exactly, with nothing left in flight or in progress', async () => {
    const alice = await wire.user('alice');
    const bob = await wire.user('bob');
    const a = wire.open(alice);
    await a.until('ready', (s) => s.frames.length > 0);
    // One file that fits one stored append, one that takes several, one empty.
    const small = randomBytes(100_000);
    const large = randomBytes(2 * 1024 * 1024 + 333);
    const empty = Buffer.alloc(0);
    const ids = [
      await sendFile(alice, a, 'bob', 'small.bin', small),
      await sendFile(alice, a, 'bob', 'large.bin', large),
      await sendFile(alice, a, 'bob', 'empty.bin', empty),
    ];
    const afterUploads = await idle();
    expect(value(afterUploads, `tinychat_file_bytes_total${UP}`)).to.equal(small.length + large.length);
    expect(value(afterUploads, `tinychat_file_bytes_in_flight${UP}`)).to.equal(0);
    expect(value(afterUploads, `tinychat_file_bytes_total${DOWN}`)).to.equal(0);

    const saveDir = makeTempDir();
    const files = [small, large, empty];
    for (const [i, name] of ['small.bin', 'large.bin', 'empty.bin'].entries()) {
      const bytes = files[i];
      await downloadFile(filesOf(bob), ids[i], { name, size: bytes.length, sha256: sha256(bytes), mediaType: '' }, saveDir);
    }
    const done = await idle();
    expect(value(done, `tinychat_file_bytes_total${DOWN}`)).to.equal(small.length + large.length);
    expect(value(done, `tinychat_file_bytes_in_flight${DOWN}`)).to.equal(0);
    expect(value(done, `tinychat_file_bytes_total${UP}`)).to.equal(small.length + large.length);
    expect(value(done, `tinychat_file_bytes_in_flight${UP}`)).to.equal(0);
  });

  it('shows the bytes of an upload held before they are stored, and stores them when the client goes away', async () => {
    const alice = await wire.user('alice');
    const channel = filesOf(alice);
    const whole = randomBytes(3 * 1024 * 1024);
    const key = { sha256: sha256(whole), size: whole.length };
    // 500 000 bytes in chunks: less than the server gathers before it stores, so all are held.
    const sent = 500_000;
    const call = channel.client.upload(channel.metadata, () => undefined);
    for (let at = 0; at < sent; at += 50_000) {
      call.write({ sha256: at === 0 ? key.sha256 : '', size: at === 0 ? key.size : 0, offset: 0, data: whole.subarray(at, at + 50_000) });
    }
    await eventually('the sent bytes held in flight', async () => value(await scrape(), `tinychat_file_bytes_in_flight${UP}`) === sent);
    const holding = await scrape();
    expect(value(holding, `tinychat_file_transfers${UP}`)).to.equal(1);
    expect(value(holding, `tinychat_file_bytes_total${UP}`)).to.equal(0);

    call.cancel();
    const after = await idle();
    expect(value(after, `tinychat_file_bytes_in_flight${UP}`)).to.equal(0);
    // What arrived was stored, so a resume continues after it; the counter says so.
    expect(value(after, `tinychat_file_bytes_total${UP}`)).to.equal(sent);
    const state = await new Promise<UploadStatusResponse>((resolve, reject) =>
      channel.client.uploadStatus(key, channel.metadata, (err: ServiceError | null, response?: UploadStatusResponse) => (err ? reject(err) : resolve(response!))),
    );
    expect(state.storedBytes).to.equal(sent);
  });

  it('ends an upload refused midway, keeping the bytes before the refused chunk', async () => {
    const alice = await wire.user('alice');
    const channel = filesOf(alice);
    const whole = randomBytes(1024 * 1024);
    const key = { sha256: sha256(whole), size: whole.length };
    const refused = new Promise<ServiceError>((resolve) => {
      const call = channel.client.upload(channel.metadata, (err) => resolve(err!));
      call.write({ sha256: key.sha256, size: key.size, offset: 0, data: whole.subarray(0, 60_000) });
      call.write({ sha256: '', size: 0, offset: 0, data: whole.subarray(60_000, 120_000) });
      // Over the 60 KiB a chunk may carry, under the 64 KiB a message may.
      call.write({ sha256: '', size: 0, offset: 0, data: whole.subarray(120_000, 182_000) });
      call.end();
    });
    expect((await refused).message).to.include('send smaller chunks');
    const after = await idle();
    expect(value(after, `tinychat_file_bytes_in_flight${UP}`)).to.equal(0);
    expect(value(after, `tinychat_file_bytes_total${UP}`)).to.equal(120_000);
  });

  it('shows the bytes of a download its reader does not take as in flight, until the reader goes on', async () => {
    const { bytes, call, received } = await pausedDownload('video.bin');
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    // Stalled: two scrapes a while apart see the same bytes held, and the same sent on.
    let stalled: Scrape | undefined;
    await eventually('the download stalled with bytes in flight', async () => {
      const one = await scrape();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const two = await scrape();
      const held = value(two, `tinychat_file_bytes_in_flight${DOWN}`);
      const same = held === value(one, `tinychat_file_bytes_in_flight${DOWN}`) && value(two, `tinychat_file_bytes_total${DOWN}`) === value(one, `tinychat_file_bytes_total${DOWN}`);
      stalled = two;
      return held > 0 && same;
    });
    const held = value(stalled!, `tinychat_file_bytes_in_flight${DOWN}`);
    const passedOn = value(stalled!, `tinychat_file_bytes_total${DOWN}`);
    expect(value(stalled!, `tinychat_file_transfers${DOWN}`)).to.equal(1);
    // Whole 60 KiB chunks read and not passed on, never more than the 16
    // messages grpc-js buffers before its write() says wait.
    expect(held % (60 * 1024)).to.equal(0);
    expect(held).to.be.at.most(16 * 60 * 1024);
    expect(passedOn + held).to.be.at.most(bytes.length);
    expect(passedOn).to.be.lessThan(bytes.length);

    call.resume();
    await ended;
    expect(received()).to.equal(bytes.length);
    const done = await idle();
    expect(value(done, `tinychat_file_bytes_in_flight${DOWN}`)).to.equal(0);
    expect(value(done, `tinychat_file_bytes_total${DOWN}`)).to.equal(bytes.length);
  });

  it('returns a download cut off by its reader to 0 transfers and 0 bytes in flight', async () => {
    const { bytes, call } = await pausedDownload('cut.bin');
    call.on('error', () => undefined);
    await eventually('bytes in flight', async () => value(await scrape(), `tinychat_file_bytes_in_flight${DOWN}`) > 0);
    call.cancel();
    const done = await idle();
    expect(value(done, `tinychat_file_bytes_in_flight${DOWN}`)).to.equal(0);
    expect(value(done, `tinychat_file_bytes_total${DOWN}`)).to.be.lessThan(bytes.length);
  });
});
