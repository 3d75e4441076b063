import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { ServiceError } from '@grpc/grpc-js';
import { downloadFile, uploadFile, sha256OfFile, type TransferProgress } from '../../src/client/file-transfer';
import type { UploadStatusResponse } from '../../src/gen/tinychat/v1/files';
import { startTwoNodes, type TestNode, type TwoNodes } from '../support/cluster';
import { eventually, sleep } from '../support/eventually';
import { FilesChannels } from '../support/files-channel';
import { WireClients } from '../support/grpc-client';
import { makeTempDir, removeTempDirs } from '../support/temp-dir';

describe('files across server nodes on one PostgreSQL database and one NATS', function () {
  this.timeout(60_000);
  let cluster: TwoNodes;
  let nodes: TestNode[];
  let wire: WireClients;
  const channels = new FilesChannels();

  beforeEach(async function () {
    cluster = await startTwoNodes();
    nodes = cluster.nodes;
    wire = new WireClients(() => nodes[0].target);
  });

  afterEach(async function () {
    wire.cancelStreams();
    wire.closeClients();
    channels.closeAll();
    await cluster.stop();
    removeTempDirs();
  });

  it('serves a file uploaded on one node from another, to a receiver who sees the file message live there', async function () {
    const alice = await wire.user('alice', nodes[0].target);
    const bob = await wire.user('bob', nodes[1].target);
    const aliceStream = wire.open(alice);
    const bobStream = wire.open(bob);
    await bobStream.until('bob ready', (s) => s.frames.length > 0);
    const path = join(makeTempDir(), 'screenshot.png');
    const bytes = randomBytes(2_500_000);
    writeFileSync(path, bytes);

    const file = await uploadFile(channels.open(nodes[0].target, alice.token), path);
    aliceStream.write({ kind: { $case: 'send', send: { clientId: 'f1', receiver: 'bob', body: 'look', kind: 0, file } } });
    await bobStream.until('the file message on node b', (s) => s.messages.length === 1, 10_000);
    expect(bobStream.messages[0].file).to.deep.equal(file);

    const saved = await downloadFile(channels.open(nodes[1].target, bob.token), bobStream.messages[0].id, file, makeTempDir());
    expect(readFileSync(saved).equals(bytes)).to.equal(true);
  });

  it('resumes on another node an upload cut on the first, from the bytes the first had stored', async function () {
    const alice = await wire.user('alice', nodes[0].target);
    const path = join(makeTempDir(), 'artifact.bin');
    const bytes = randomBytes(3 * 1024 * 1024);
    writeFileSync(path, bytes);
    const sha256 = await sha256OfFile(path);
    const first = channels.open(nodes[0].target, alice.token);
    const call = first.client.upload(first.metadata, () => undefined);
    for (let at = 0; at < 2 * 1024 * 1024; at += 60 * 1024) {
      call.write({ sha256: at === 0 ? sha256 : '', size: at === 0 ? bytes.length : 0, offset: 0, data: bytes.subarray(at, Math.min(at + 60 * 1024, 2 * 1024 * 1024)) });
    }
    const second = channels.open(nodes[1].target, alice.token);
    const askSecond = () =>
      new Promise<UploadStatusResponse>((resolve, reject) =>
        second.client.uploadStatus({ sha256, size: bytes.length }, second.metadata, (err: ServiceError | null, value?: UploadStatusResponse) =>
          err ? reject(err) : resolve(value!),
        ),
      );
    // Node b sees what node a stored (it is in the database they share).
    await eventually('node b seeing the first MiB', async () => (await askSecond()).storedBytes >= 1024 * 1024, 10_000);
    call.cancel();
    // Node a stores what it had gathered when the call ends; wait until that is in.
    const held = await eventually('the stored bytes to settle', async () => {
      const before = (await askSecond()).storedBytes;
      await sleep(300);
      return (await askSecond()).storedBytes === before && before;
    }, 10_000);
    const progress: TransferProgress[] = [];
    const file = await uploadFile(second, path, (p) => progress.push(p));
    expect(progress[0]).to.deep.equal({ done: held, total: bytes.length, moved: 0 });
    expect(file.sha256).to.equal(sha256);
    expect(await askSecond()).to.include({ storedBytes: bytes.length, complete: true });
  });
});
