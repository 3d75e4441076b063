import { WireClient } from '../grpc-client';
import { startTestServer, type TestServer } from '../test-server';

// Run by leak-hook.test.ts under the leak hook; not part of the suite.
describe('a test that leaks a stream', function () {
  let server: TestServer;
  let client: WireClient;

  before(async () => {
    server = await startTestServer();
  });

  after(async () => {
    await server.stop();
  });

  beforeEach(async () => {
    client = new WireClient(server.target);
    await client.login('alice');
  });

  afterEach(() => client.close());

  it('opens a Converse stream and never ends it', async () => {
    const stream = client.converse();
    stream.resume();
    await stream.until('the greeting', (s) => s.frames.length > 0);
  });
});
