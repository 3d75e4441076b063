import { createServer } from 'node:net';
import { WireClient } from '../grpc-client';
import { startTestServer, type TestServer } from '../test-server';

// Run by leak-hook.test.ts under the leak hook; not part of the suite.
describe('tests that leak a client and a listening socket', function () {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });

  after(async () => {
    await server.stop();
  });

  it('logs in with a client it never closes', async () => {
    const client = new WireClient(server.target);
    await client.login('alice');
  });

  it('listens on a port it never closes', async () => {
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  });
});
