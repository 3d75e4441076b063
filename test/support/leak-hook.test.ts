import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const MOCHA = require.resolve('mocha/bin/mocha.js');
const HOOK = join(__dirname, 'leak-hook.js');

/** Runs one fixture file under the leak hook in a mocha process of its own. */
function runFixture(name: string): Promise<{ code: number | null; output: string }> {
  const fixture = join(__dirname, 'leak-fixtures', `${name}.fixture.js`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MOCHA, '--no-config', '--enable-source-maps', '--timeout', '20000', '--require', HOOK, fixture], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('the leak hook', function () {
  this.timeout(60_000);

  it('fails a test that leaves a gRPC server running, naming it and where it was started, and runs the next test', async () => {
    const { code, output } = await runFixture('leaks-server');
    expect(code, output).to.equal(1);
    expect(output).to.contain('1 passing').and.contain('1 failing');
    expect(output).to.contain('the test left this open after its afterEach hooks ran');
    expect(output).to.match(/gRPC server bound to 127\.0\.0\.1:0, opened by the test "a test that leaks a server starts a server and never stops it" \(test\/support\/leak-fixtures\/leaks-server\.fixture\.ts\)/);
    expect(output).to.match(/at async Context\.<anonymous> \(test\/support\/leak-fixtures\/leaks-server\.fixture\.ts:6:\d+\)/);
    expect(output).to.contain('To fix: stop it and await the stop');
    expect(output).to.contain('✔ runs after the leak');
  });

  it('fails a test that leaves a Converse stream open, naming the call and the line that opened it', async () => {
    const { code, output } = await runFixture('leaks-stream');
    expect(code, output).to.equal(1);
    expect(output).to.contain('gRPC call /tinychat.v1.Chat/Converse with no status yet, opened by the test "a test that leaks a stream');
    expect(output).to.match(/at Context\.<anonymous> \(test\/support\/leak-fixtures\/leaks-stream\.fixture\.ts:25:\d+\)/);
    expect(output).to.contain('To fix: cancel it (`stream.cancel()`)');
    expect(output, 'the suite’s own server was stopped in time').to.not.contain('gRPC server bound');
  });

  it('fails a test that leaves a child process running, naming its command, and kills it', async () => {
    const { code, output } = await runFixture('leaks-child');
    expect(code, output).to.equal(1);
    const pid = Number(/child process (\d+) `\S*node -e setTimeout\(\(\) => undefined, 60000\)`/.exec(output)?.[1]);
    expect(pid, output).to.be.greaterThan(0);
    expect(output).to.match(/at Context\.<anonymous> \(test\/support\/leak-fixtures\/leaks-child\.fixture\.ts:6:\d+\)/);
    expect(() => process.kill(pid, 0), 'the leaked child was killed').to.throw(/ESRCH/);
  });

  it('fails a test that leaves its gRPC client or a listening socket open, naming each', async () => {
    const { code, output } = await runFixture('leaks-client-and-listener');
    expect(code, output).to.equal(2);
    expect(output).to.match(/gRPC channel to (dns:)?127\.0\.0\.1:\d+, opened by the test "tests that leak a client and a listening socket logs in with a client it never closes"/);
    expect(output).to.match(/at new WireClient \(test\/support\/grpc-client\.ts:\d+:\d+\)\n\s+at Context\.<anonymous> \(test\/support\/leak-fixtures\/leaks-client-and-listener\.fixture\.ts:18:\d+\)/);
    expect(output).to.contain('To fix: close the client that owns it (`client.close()`)');
    expect(output).to.match(/Server listening \(node:net\), opened by the test "tests that leak a client and a listening socket listens on a port it never closes"/);
    expect(output).to.contain('To fix: close it and await its close callback');
  });

  it('fails the suite whose before hook started a server its after hooks never stopped, naming the suite and its file', async () => {
    const { code, output } = await runFixture('leaks-in-before');
    expect(code, output).to.equal(1);
    expect(output).to.contain('✔ uses the server');
    expect(output).to.contain('"after all" hook: leak check');
    expect(output).to.contain(
      'gRPC server bound to 127.0.0.1:0, opened by a before/after hook of the suite "a suite whose before hook leaks a server" (test/support/leak-fixtures/leaks-in-before.fixture.ts)',
    );
  });

  it('passes tests that end their streams, close their clients, stop their servers and wait for their children', async () => {
    const { code, output } = await runFixture('clean');
    expect(output).to.contain('3 passing');
    expect(output).to.not.contain('failing');
    expect(code, output).to.equal(0);
  });
});
