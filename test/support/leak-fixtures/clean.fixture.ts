import { spawn } from 'node:child_process';
import { WireClient } from '../grpc-client';
import { startTestServer, type TestServer } from '../test-server';

// Run by leak-hook.test.ts under the leak hook; not part of the suite.
describe('tests that close everything they open', function () {
  let shared: TestServer;
  let sharedClient: WireClient;

  before(async () => {
    shared = await startTestServer();
    sharedClient = new WireClient(shared.target);
  });

  after(async () => {
    sharedClient.close();
    await shared.stop();
  });

  it('ends its stream, closes its client and stops its server', async () => {
    const server = await startTestServer();
    const client = new WireClient(server.target);
    await client.login('alice');
    const stream = client.converse();
    stream.resume();
    await stream.until('the greeting', (s) => s.frames.length > 0);
    await stream.finish();
    client.close();
    await server.stop();
  });

  it('waits for its child process to exit', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 50)'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
  });

  it('uses the suite’s server and client, which the suite’s after hook closes', async () => {
    await sharedClient.login('bob');
    const client = new WireClient(shared.target);
    await client.login('carol');
    client.close();
  });
});
