import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { bufCurl } from '../support/buf-curl';
import { TEST_PASSWORD } from '../support/grpc-client';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

/** The JSON messages of a streaming buf curl answer, one object after another. */
function messages(output: string): Array<Record<string, any>> {
  return output
    .trim()
    .split(/\n(?=\{)/)
    .map((text) => JSON.parse(text) as Record<string, any>);
}

describe('a file sent and fetched with buf curl, as the README shows', function () {
  this.timeout(30_000);
  let server: TestServer;

  before(async function () {
    server = await startTestServer();
  });

  after(async function () {
    await server?.stop();
    removeTempDirs();
  });

  it('uploads, sends the file message on Converse and downloads the same bytes', async function () {
    const login = JSON.parse(await bufCurl(server.port, ['--data', JSON.stringify({ line: `/LOGIN alice ${TEST_PASSWORD}` })], '/tinychat.v1.Chat/Command'));
    const auth = ['-H', `authorization: Bearer ${login.login.token}`];
    const content = Buffer.from('hello from a script\n');
    const sha256 = createHash('sha256').update(content).digest('hex');
    const size = content.length;

    const status = JSON.parse(await bufCurl(server.port, [...auth, '--data', JSON.stringify({ sha256, size })], '/tinychat.v1.Files/UploadStatus'));
    expect(status).to.deep.equal({ maxChunkBytes: 61440 });
    const uploaded = JSON.parse(
      await bufCurl(server.port, [...auth, '--data', JSON.stringify({ sha256, size, data: content.toString('base64') })], '/tinychat.v1.Files/Upload'),
    );
    expect(uploaded).to.include({ storedBytes: String(size), complete: true });

    const frames = messages(
      await bufCurl(
        server.port,
        [...auth, '--data', `{"resume": {}} ${JSON.stringify({ send: { clientId: 'file-1', receiver: 'alice', file: { name: 'note.txt', size, sha256 } } })}`],
        '/tinychat.v1.Chat/Converse',
      ),
    );
    const receipt = frames.flatMap((frame) => frame.receipts ?? [])[0];
    expect(receipt.clientId).to.equal('file-1');

    const chunks = messages(await bufCurl(server.port, [...auth, '--data', JSON.stringify({ messageId: Number(receipt.id) })], '/tinychat.v1.Files/Download'));
    expect(chunks[0].file).to.deep.equal({ name: 'note.txt', size: String(size), sha256 });
    expect(Buffer.concat(chunks.map((chunk) => Buffer.from(chunk.data ?? '', 'base64'))).equals(content)).to.equal(true);
  });
});
