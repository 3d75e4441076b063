import { startTestServer, type TestServer } from '../test-server';

// Run by leak-hook.test.ts under the leak hook; not part of the suite.
describe('a suite whose before hook leaks a server', function () {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });

  it('uses the server', () => {
    if (!server.port) throw new Error('no port');
  });
});
