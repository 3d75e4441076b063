import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { makeTempDir, removeTempDirs } from '../support/test-server';
import { runCli } from '../support/cli';
import { CLI, startServerProcess, type ServerProcess } from '../support/server-process';
import { WireClient } from '../support/grpc-client';

describe('the tinychat command', function () {
  this.timeout(30_000);
  let server: ServerProcess | undefined;
  const clients: WireClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.stop('SIGKILL');
    server = undefined;
    removeTempDirs();
  });

  it('prints help for itself and each subcommand', async () => {
    const main = await runCli(['--help']);
    expect(main.code).to.equal(0);
    expect(main.stdout).to.match(/serve/).and.match(/chat/);
    const serve = await runCli(['serve', '--help']);
    expect(serve.stdout).to.match(/--port/).and.match(/TINYCHAT_DB/);
    const chat = await runCli(['chat', '--help']);
    expect(chat.stdout).to.match(/--server/).and.match(/--plain/).and.match(/--connect-timeout SECONDS.*TINYCHAT_CONNECT_TIMEOUT, default 30/);
  });

  it('starts through npm without compiling first: the launch leaves the build untouched', async () => {
    const built = statSync(CLI).mtimeMs;
    for (const script of ['chat', 'start']) {
      const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn('npm', ['run', '--silent', script, '--', '--help'], { cwd: join(__dirname, '..', '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.on('exit', (code) => resolve({ code, stdout }));
      });
      expect(result.code, script).to.equal(0);
      expect(result.stdout, script).to.match(/--help|Usage|usage/);
    }
    expect(statSync(CLI).mtimeMs, 'dist/src/main.js was rewritten by a launch').to.equal(built);
  });

  it('refuses an unknown option with exit code 2 and says where to look', async () => {
    const result = await runCli(['serve', '--bogus']);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/--bogus/).and.match(/tinychat serve --help/);
    const port = await runCli(['serve', '--port', 'many']);
    expect(port.code).to.equal(2);
    expect(port.stderr).to.match(/--port must be a whole number/);
  });

  it('says so when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await runCli(['serve', '--port', String(port), '--db', ':memory:']);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.match(/port is in use/).and.match(/--port/);
    } finally {
      blocker.close();
    }
  });

  it('takes its settings from TINYCHAT_* environment variables', async () => {
    const dir = makeTempDir();
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, TINYCHAT_PORT: '0', TINYCHAT_DB: join(dir, 'env.db'), TINYCHAT_HOST: '127.0.0.1', TINYCHAT_LOG_FORMAT: 'text' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (/listening address=127\.0\.0\.1:\d+/.test(log)) resolve();
      });
      child.once('exit', () => reject(new Error(`server exited: ${log}`)));
    });
    expect(log).to.include(join(dir, 'env.db'));
    child.kill('SIGKILL');
  });

  it('shuts down gracefully on SIGTERM: open streams end with UNAVAILABLE and the process exits 0', async () => {
    server = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db') });
    const alice = new WireClient(server.target);
    clients.push(alice);
    await alice.login('alice');
    const stream = alice.converse();
    stream.resume();
    await stream.until('ready', (s) => s.frames.length > 0);
    const exit = await server.stop('SIGTERM');
    expect(exit).to.equal(0);
    const ended = await stream.ended();
    expect(ended.code).to.equal(status.UNAVAILABLE);
    expect(ended.details).to.match(/shutting down/);
    expect(server.log()).to.match(/signal signal=SIGTERM/).and.match(/stopped/);
    expect(server.log()).to.not.include(alice.token!);
  });

  it('stops cleanly, exit code 0, when SIGTERM comes while it is still starting', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--db', join(makeTempDir(), 'chat.db'), '--log-format', 'text'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    // The store is open but the server is not yet listening.
    child.stderr.on('data', (chunk: Buffer) => {
      const before = log;
      log += chunk.toString();
      if (!before.includes('store-open') && log.includes('store-open')) child.kill('SIGTERM');
    });
    expect(await exited, log).to.equal(0);
    expect(log).to.match(/listening/).and.match(/signal signal=SIGTERM/).and.match(/stopped/);
  });

  it('keeps the files of a database in memory in a temporary folder, and removes it when it stops', async () => {
    const tmp = makeTempDir();
    server = await startServerProcess({ dbPath: ':memory:', env: { ...process.env, TMPDIR: tmp } });
    const made = readdirSync(tmp);
    expect(made).to.have.length(1);
    expect(made[0]).to.match(/^tinychat-files-/);
    expect(await server.stop('SIGTERM')).to.equal(0);
    expect(readdirSync(tmp)).to.deep.equal([]);
  });

  it('runs the plain client in a pipe: sends, waits for receipts, and the receiver sees the message', async () => {
    server = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db') });
    const bob = new WireClient(server.target);
    clients.push(bob);
    await bob.login('bob');
    const result = await runCli(['chat', '--server', server.target, '--user', 'alice'], { input: '/START bob\nhello from a pipe\n/TIME\n' });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/conversation with bob/).and.match(/server time/);
    const stream = bob.converse();
    stream.resume();
    await stream.until('the piped message', (s) => s.messages.length === 1);
    expect(stream.messages[0]).to.include({ sender: 'alice', body: 'hello from a pipe' });
    stream.cancel();
    // The piped message never reached the log.
    expect(server.log()).to.not.include('hello from a pipe');
  });

  it('prints what arrives for a piped user as [HH:MM:SS] sender: body', async () => {
    server = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db') });
    const bob = new WireClient(server.target);
    clients.push(bob);
    await bob.login('bob');
    const carol = await runCli(['chat', '--server', server.target, '--user', 'carol'], { input: '' });
    expect(carol.code).to.equal(0);
    const stream = bob.converse();
    stream.resume();
    stream.send('carol', 'are you there?', 'b1');
    await stream.until('receipt', (s) => s.receipts.length === 1);
    stream.cancel();
    const result = await runCli(['chat', '--server', server.target, '--user', 'carol'], { input: '/START bob\n' });
    expect(result.stdout).to.match(/\[\d\d:\d\d:\d\d\] bob: are you there\?/);
  });

  it('prints waiting messages to a piped user once: a second run with empty input prints nothing', async () => {
    server = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db') });
    const bob = ['chat', '--plain', '--server', server.target, '--user', 'bob'];
    expect((await runCli(bob, { input: '' })).code).to.equal(0);
    const alice = new WireClient(server.target);
    clients.push(alice);
    await alice.login('alice');
    const stream = alice.converse();
    stream.resume();
    for (const n of [1, 2, 3]) stream.send('bob', `message ${n}`, `a${n}`);
    await stream.until('three receipts', (s) => s.receipts.length === 3);
    stream.cancel();

    const first = await runCli(bob, { input: '' });
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.match(/^\[\d\d:\d\d:\d\d\] alice: message 1\n.*message 2\n.*message 3\n$/);
    const second = await runCli(bob, { input: '' });
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.equal('');
  });

  it('tells the user how to fix an unreachable server', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const result = await runCli(['chat', '--server', `127.0.0.1:${port}`, '--user', 'alice', '--connect-timeout', '1'], { input: 'hi\n' });
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.include(`cannot reach 127.0.0.1:${port}`).and.include('tinychat serve').and.include('retrying in');
    expect(result.stderr).to.include('gave up after 1 s');
    const fromEnv = await runCli(['chat', '--server', `127.0.0.1:${port}`, '--user', 'alice'], {
      input: 'hi\n',
      env: { TINYCHAT_CONNECT_TIMEOUT: '0' },
    });
    expect(fromEnv.code).to.not.equal(0);
    expect(fromEnv.stderr).to.equal(`error: cannot reach 127.0.0.1:${port} — is \`tinychat serve\` running?\n`);
  });
});
