import { startTestServer } from '../test-server';

// Run by leak-hook.test.ts under the leak hook; not part of the suite.
describe('a test that leaks a server', function () {
  it('starts a server and never stops it', async () => {
    await startTestServer();
  });

  it('runs after the leak', () => undefined);
});
