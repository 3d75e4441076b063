import { deflateSync, crc32 } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { status, type ServiceError } from '@grpc/grpc-js';
import { uploadFile, type FilesChannel } from '../../src/client/file-transfer';
import type { PreviewResponse } from '../../src/gen/tinychat/v1/files';
import { FilesChannels } from '../support/files-channel';
import { WireClients, type WireClient, type WireStream } from '../support/grpc-client';
import { makeTempDir, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

/** One PNG chunk: length, type, data, CRC. */
function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A well-formed PNG header claiming width × height pixels, with a few compressed rows: a decompression bomb. */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(3 * width + 1))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('image previews made on the server', function () {
  this.timeout(30_000);
  let server: TestServer;
  const wire = new WireClients(() => server.target);
  const channels = new FilesChannels();
  let alice: WireClient;
  let stream: WireStream;
  let dir: string;
  let sent = 0;

  beforeEach(async function () {
    server = await startTestServer();
    dir = makeTempDir();
    alice = await wire.user('alice');
    await wire.user('bob');
    stream = wire.open(alice);
  });

  afterEach(async function () {
    wire.cancelStreams();
    channels.closeAll();
    await server.stop();
    wire.closeClients();
    removeTempDirs();
  });

  /** Sends `bytes` as a file named `name` to bob; resolves with the message id. */
  async function sendImage(name: string, bytes: Buffer): Promise<number> {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    const file = await uploadFile(channels.open(server.target, alice.token), path);
    const clientId = `img-${++sent}`;
    stream.write({ kind: { $case: 'send', send: { clientId, receiver: 'bob', body: '', kind: 0, file } } });
    await stream.until('the receipt', (s) => s.receipts.some((r) => r.clientId === clientId));
    return stream.receipts.find((r) => r.clientId === clientId)!.id;
  }

  function preview(channel: FilesChannel, messageId: number, maxWidth = 64, maxHeight = 64): Promise<PreviewResponse> {
    return new Promise((resolve, reject) =>
      channel.client.preview({ messageId, maxWidth, maxHeight }, channel.metadata, (err: ServiceError | null, value?: PreviewResponse) =>
        err ? reject(err) : resolve(value!),
      ),
    );
  }

  async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
    try {
      await promise;
    } catch (err) {
      return err as ServiceError;
    }
    expect.fail('expected a refusal');
  }

  it('shrinks a PNG and a JPEG to a few kilobytes of RGB within the size asked, keeping their colours', async function () {
    const red = await sharp({ create: { width: 400, height: 200, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    const blue = await sharp({ create: { width: 300, height: 300, channels: 3, background: { r: 0, g: 0, b: 255 } } }).jpeg().toBuffer();
    const png = await preview(channels.open(server.target, alice.token), await sendImage('red.png', red), 40, 40);
    expect([png.width, png.height]).to.deep.equal([40, 20]);
    expect(png.rgb.length).to.equal(40 * 20 * 3);
    expect([...png.rgb.subarray(0, 3)]).to.deep.equal([255, 0, 0]);
    const jpeg = await preview(channels.open(server.target, alice.token), await sendImage('blue.jpg', blue));
    expect([jpeg.width, jpeg.height]).to.deep.equal([64, 64]);
    expect(jpeg.rgb[2]).to.be.greaterThan(240);
    expect(jpeg.rgb[0]).to.be.lessThan(15);
  });

  it('refuses a truncated image, a file that is no image whatever its name, and a decompression bomb, and goes on serving', async function () {
    const channel = channels.open(server.target, alice.token);
    const whole = await sharp({ create: { width: 500, height: 500, channels: 3, background: { r: 9, g: 99, b: 199 } } }).png({ compressionLevel: 0 }).toBuffer();
    const cases: Array<[string, Buffer, RegExp]> = [
      ['truncated.png', whole.subarray(0, Math.floor(whole.length / 3)), /not an image the server can preview/],
      ['cat.png', Buffer.from('this is a text file pretending to be a cat picture'), /not a known image format/],
      ['bomb.png', pngClaiming(100_000, 100_000), /more than 50 million pixels/],
    ];
    for (const [name, bytes, why] of cases) {
      const err = await refusal(preview(channel, await sendImage(name, bytes)));
      expect(err.code, name).to.equal(status.INVALID_ARGUMENT);
      expect(err.details, name).to.match(why).and.include('save it with /SAVE instead');
    }
    const fine = await sharp({ create: { width: 10, height: 10, channels: 3, background: { r: 0, g: 255, b: 0 } } }).png().toBuffer();
    expect((await preview(channel, await sendImage('fine.png', fine))).width).to.equal(10);
    expect((await alice.command('/TIME')).result?.$case).to.equal('time');
  });

  it('shows previews to the conversation\'s members only', async function () {
    const eve = await wire.user('eve');
    const image = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
    const id = await sendImage('small.png', image);
    const err = await refusal(preview(channels.open(server.target, eve.token), id));
    expect(err.code).to.equal(status.NOT_FOUND);
  });
});
