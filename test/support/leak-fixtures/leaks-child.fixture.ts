import { spawn } from 'node:child_process';

// Run by leak-hook.test.ts under the leak hook; not part of the suite.
describe('a test that leaks a child process', function () {
  it('spawns a process that outlives it', () => {
    spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 60000)'], { stdio: 'ignore' });
  });
});
