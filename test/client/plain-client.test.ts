import { TEST_PASSWORD } from '../support/grpc-client';
import { expect } from 'chai';
import { join } from 'node:path';
import { ChatConnection } from '../../src/client/connection';
import { formatClock } from '../../src/client/format';
import { runPlainInMemory, type RunningPlainClient } from '../support/plain-run';
import { MessageKind, type Message } from '../../src/gen/tinychat/v1/chat';
import { startTestServer } from '../support/test-server';
import { makeTempDir, removeTempDir } from '../support/temp-dir';
import { eventually, sleep, unusedPort } from '../support/eventually';
import { FAST_BACKOFF, watchConnection, type Watched } from '../support/connection-watcher';

type TestServer = Awaited<ReturnType<typeof startTestServer>>;

type Running = RunningPlainClient;

/** Splits a printed line of the documented form `[HH:MM:SS] sender: body`; undefined when it has another form. */
function parseLine(line: string): { clock: string; sender: string; body: string } | undefined {
  const match = /^\[(\d\d:\d\d:\d\d)\] ([A-Za-z0-9_.-]{1,32}): (.*)$/.exec(line);
  return match ? { clock: match[1], sender: match[2], body: match[3] } : undefined;
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe('runPlainClient', function () {
  let server: TestServer;
  let serverRunning: boolean;
  let tempDir: string;
  let connections: ChatConnection[];
  let clients: Running[];

  beforeEach(async () => {
    tempDir = makeTempDir('tinychat-plain-', 'suite');
    server = await startTestServer({ dbPath: join(tempDir, 'chat.db') });
    serverRunning = true;
    connections = [];
    clients = [];
  });

  afterEach(async () => {
    for (const client of clients) client.end();
    await Promise.all(clients.map((c) => c.exit));
    await Promise.all(connections.map((c) => c.close()));
    if (serverRunning) await server.stop();
    removeTempDir(tempDir);
  });

  function run(
    user: string,
    options: { target?: string; drainTimeoutMs?: number; connectTimeoutMs?: number; password?: string; confirmPassword?: () => Promise<string> } = {},
  ): Running {
    const client = runPlainInMemory(options.target ?? server.target, user, options);
    clients.push(client);
    return client;
  }

  /** Replaces the test's server with a fresh one that allows `perSecond` sends a second per user, `burst` at once. */
  async function restartWithSendRate(perSecond: number, burst: number): Promise<void> {
    await server.stop();
    server = await startTestServer({ dbPath: join(tempDir, 'paced.db'), limits: { sendRate: { perSecond, burst } } });
  }

  /** A ChatConnection collecting what it receives. */
  async function listener(user: string): Promise<Watched> {
    const watched = watchConnection(server.target, user);
    connections.push(watched.connection);
    await watched.connection.connect();
    return watched;
  }

  async function register(user: string): Promise<void> {
    const { connection } = await listener(user);
    await connection.close();
  }

  it('sends the lines after /START to that user', async () => {
    const bob = await listener('bob');
    const alice = run('alice');
    alice.type('/START bob', 'hello bob', 'how are you?');
    alice.end();
    expect(await alice.exit).to.equal(0);
    expect(alice.out()).to.include('conversation with bob open');
    await eventually('both messages', () => bob.messages.length === 2);
    expect(bob.messages.map((m) => [m.sender, m.body])).to.deep.equal([
      ['alice', 'hello bob'],
      ['alice', 'how are you?'],
    ]);
    // bob's coming online may or may not reach alice after /START; nothing else may be said.
    expect(alice.err().replace('bob is online\n', '')).to.equal('');
  });

  it('prints the presence of the conversation’s peer only: at /START, as it changes, and no more after /STOP', async () => {
    await register('bob');
    await register('carol');
    const alice = run('alice');
    alice.type('/START bob');
    await eventually('bob’s state at /START', () => alice.err().includes('bob is offline'));
    const carol = await listener('carol');
    const bob = await listener('bob');
    await eventually('bob online', () => alice.err().includes('bob is online'));
    alice.type('/STOP');
    await eventually('/STOP answered', () => alice.out().includes('conversation with bob closed'));
    await bob.connection.close();
    await carol.connection.close();
    alice.end();
    expect(await alice.exit).to.equal(0);
    expect(alice.err()).to.equal('bob is offline\nbob is online\n');
  });

  it('waits for every receipt when the input ends, so nothing piped in is lost', async () => {
    await register('bob');
    const alice = run('alice');
    const bodies = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`);
    alice.type('/START bob', ...bodies);
    alice.end();
    expect(await alice.exit).to.equal(0);

    // bob connects only after the client exited: everything must be stored.
    const bob = await listener('bob');
    await eventually('all fifty messages', () => bob.messages.length === 50);
    expect(bob.messages.map((m) => m.body)).to.deep.equal(bodies);
  });

  it('prints incoming messages as [HH:MM:SS] sender: body in local time', async () => {
    await register('bob');
    const alice = await listener('alice');
    const bob = run('bob');
    let stored: Message | undefined;
    alice.connection.on('receipt', (sent) => (stored = sent.message));
    alice.connection.send('bob', 'hi bob');
    await eventually('the receipt', () => stored);
    const line = `[${formatClock(stored!.time!)}] alice: hi bob\n`;
    await eventually('the printed line', () => bob.out().includes(line));
    expect(bob.out()).to.match(/^\[\d\d:\d\d:\d\d\] alice: hi bob$/m);
    bob.type('/QUIT');
    expect(await bob.exit).to.equal(0);
  });

  it("prints every message, copies of the user's own sends included, as [HH:MM:SS] sender: body that parses back", async () => {
    await register('bob');
    const phone = await listener('alice');
    const laptop = run('alice');
    let stored: Message | undefined;
    phone.connection.on('receipt', (sent) => (stored = sent.message));
    // A command is answered once the client is connected and its stream is open.
    laptop.type('/TIME');
    await eventually('the laptop to connect', () => laptop.out().includes('server time'));
    phone.connection.send('bob', 'sent from the phone: a: b');
    await eventually('the receipt', () => stored);
    await eventually('the copy on the laptop', () => laptop.out().includes('sent from the phone'));
    laptop.end();
    expect(await laptop.exit).to.equal(0);
    const line = laptop.out().split('\n').find((l) => l.includes('sent from the phone'))!;
    const parsed = parseLine(line);
    expect(parsed, `"${line}" has the documented format`).to.deep.equal({
      clock: formatClock(stored!.time!),
      sender: 'alice',
      body: 'sent from the phone: a: b',
    });
  });

  it('asks for a typed password a second time before it registers a new name, and registers nothing when they differ', async () => {
    const alice = await listener('alice');
    let asked = 0;
    const typo = run('newcomer', { password: 'my pass phrase', confirmPassword: async () => (asked += 1, 'my pass phrose') });
    typo.end();
    expect(await typo.exit).to.equal(1);
    expect(asked).to.equal(1);
    expect(typo.err()).to.include('there is no account named newcomer yet: a new account is being created');
    expect(typo.err()).to.include('the two passwords differ — nothing was registered');
    const users = await alice.connection.command('/USERS');
    expect(users.result?.$case === 'users' && users.result.users.users.map((u) => u.name)).to.deep.equal(['alice']);
    const confirmed = run('newcomer', { password: 'my pass phrase', confirmPassword: async () => 'my pass phrase' });
    confirmed.type('/START alice', 'hello, I am new');
    confirmed.end();
    expect(await confirmed.exit).to.equal(0);
    await eventually('the message at alice', () => alice.messages.some((m) => m.body === 'hello, I am new'));
    // An existing name is not asked about.
    const again = run('newcomer', { password: 'my pass phrase', confirmPassword: async () => { throw new Error('asked for an existing name'); } });
    again.end();
    expect(await again.exit).to.equal(0);
    expect(again.err()).not.to.include('new account');
  });

  it('sends /ME as an action and prints actions as [HH:MM:SS] * sender action', async () => {
    await register('bob');
    const alice = await listener('alice');
    const bob = run('bob');
    bob.type('/START alice', '/ME waves: hello', '/me', 'and a plain line');
    await eventually('both messages at alice', () => alice.messages.length === 2);
    expect(alice.messages.map((m) => [m.kind, m.body])).to.deep.equal([
      [MessageKind.MESSAGE_KIND_ACTION, 'waves: hello'],
      [MessageKind.MESSAGE_KIND_UNSPECIFIED, 'and a plain line'],
    ]);
    await eventually('the /ME usage', () => bob.err().includes('/ME needs the action — usage: /ME <action>'));
    let stored: Message | undefined;
    alice.connection.on('receipt', (sent) => (stored = sent.message));
    alice.connection.send('bob', 'nods', { action: true });
    await eventually('the receipt', () => stored);
    await eventually('the action printed', () => bob.out().includes(`[${formatClock(stored!.time!)}] * alice nods\n`));
    bob.type('/QUIT');
    expect(await bob.exit).to.equal(0);
  });

  it('acknowledges the waiting messages it printed before it exits, so the next run does not print them again', async () => {
    await register('bob');
    const alice = await listener('alice');
    for (const body of ['one', 'two', 'three']) alice.connection.send('bob', body);
    expect(await alice.connection.drain(5000)).to.equal(true);

    // Input that ends at once, like `printf '' | tinychat chat --plain --user bob`.
    const first = run('bob');
    first.end();
    expect(await first.exit).to.equal(0);
    expect(first.out().split('\n').map((line) => parseLine(line)?.body)).to.deep.equal(['one', 'two', 'three', undefined]);

    const second = run('bob');
    second.end();
    expect(await second.exit).to.equal(0);
    expect(second.out()).to.equal('');
    expect(second.err()).to.equal('');
  });

  it('prints a message that arrives before /START and is among its recent messages only once', async () => {
    await register('bob');
    const alice = await listener('alice');
    alice.connection.send('bob', 'are you there?');
    expect(await alice.connection.drain(5000)).to.equal(true);
    const bob = run('bob');
    await eventually('the live message', () => bob.out().includes('alice: are you there?'));
    bob.type('/START alice');
    await eventually('the conversation', () => bob.out().includes('conversation with alice open'));
    bob.end();
    expect(await bob.exit).to.equal(0);
    expect(occurrences(bob.out(), 'alice: are you there?')).to.equal(1);
  });

  it('answers a message line with no conversation open with a hint, and carries on', async () => {
    const alice = run('alice');
    alice.type('hello?', '/TIME');
    alice.end();
    expect(await alice.exit).to.equal(0);
    expect(alice.err()).to.include('no conversation open — type /START <name> or /JOIN #room first');
    expect(alice.out()).to.include('server time');
  });

  it('prints a command the server refuses to errors with its explanation, and carries on', async () => {
    const alice = run('alice');
    alice.type('/START nobody', '/TIME');
    alice.end();
    expect(await alice.exit).to.equal(0);
    expect(alice.err()).to.match(/^error: .*nobody/m);
    expect(alice.out()).to.include('server time');
  });

  it('sends a line starting with // as the text after the first slash', async () => {
    const bob = await listener('bob');
    const alice = run('alice');
    alice.type('/START bob', '//shrug');
    alice.end();
    expect(await alice.exit).to.equal(0);
    await eventually('the message', () => bob.messages.length === 1);
    expect(bob.messages[0].body).to.equal('/shrug');
  });

  it('paces itself by the server\'s rate limit: 150 piped lines at 50 a second (burst 100) all arrive in order, and it returns 0', async () => {
    await restartWithSendRate(50, 100);
    const bob = await listener('bob');
    const alice = run('alice');
    const bodies = Array.from({ length: 150 }, (_, i) => `line ${i + 1}`);
    const started = Date.now();
    alice.type('/START bob', ...bodies);
    alice.end();
    expect(await alice.exit, alice.err()).to.equal(0);
    const elapsedMs = Date.now() - started;
    await eventually('every line', () => bob.messages.length >= bodies.length, 10_000);
    await sleep(200);
    expect(bob.messages.map((m) => m.body)).to.deep.equal(bodies);
    expect(alice.err()).not.to.include('error');
    // The 50 lines past the burst take a second at 50 a second: the limit was met, not lifted.
    expect(elapsedMs).to.be.at.least(900);
  });

  it('delivers 10,000 piped lines exactly once and in order through a rate limit it meets many times', async function () {
    this.timeout(60_000);
    await restartWithSendRate(2000, 50);
    const bob = await listener('bob');
    const alice = run('alice');
    const bodies = Array.from({ length: 10_000 }, (_, i) => `line ${i + 1}`);
    const started = Date.now();
    alice.type('/START bob', ...bodies);
    alice.end();
    expect(await alice.exit, alice.err()).to.equal(0);
    const elapsedMs = Date.now() - started;
    await eventually('every line', () => bob.messages.length >= bodies.length, 20_000);
    await sleep(200);
    expect(bob.messages.length).to.equal(bodies.length);
    const outOfOrder = bob.messages.findIndex((m, i) => m.body !== bodies[i]);
    expect(outOfOrder, `first line out of order: ${bob.messages[outOfOrder]?.body}`).to.equal(-1);
    expect(alice.err()).not.to.include('error');
    expect(elapsedMs, 'at most 2000 a second after a burst of 50').to.be.at.least(((bodies.length - 50) / 2000) * 1000 - 100);
    if (process.env.TINYCHAT_TEST_TIMING) process.stderr.write(`      10,000 lines in ${elapsedMs} ms\n`);
  });

  it('returns 0 on /QUIT without waiting for the input to end', async () => {
    const alice = run('alice');
    alice.type('/QUIT');
    expect(await alice.exit).to.equal(0);
  });

  it('returns 1 and says so when the server refuses a message', async () => {
    await register('bob');
    const alice = run('alice');
    alice.type('/START bob', 'x'.repeat(5000));
    alice.end();
    expect(await alice.exit).to.equal(1);
    expect(alice.err()).to.match(/^error: not sent to bob: /m);
    expect(alice.err()).to.include('1 message not sent (see above)');
  });

  it('refuses a line over the server\'s body limit by itself, naming the sizes, and sends the lines after it', async () => {
    const bob = await listener('bob');
    const alice = run('alice');
    alice.type('/START bob', 'before', 'x'.repeat(100 * 1024), 'after');
    alice.end();
    expect(await alice.exit).to.equal(1);
    expect(alice.err()).to.match(/^error: not sent to bob: the message is 102400 bytes; .* at most 4096 bytes .* split it/m);
    expect(alice.err()).not.to.include('connection lost');
    expect(alice.err()).to.include('1 message not sent (see above)');
    await eventually('both short lines', () => bob.messages.length >= 2);
    expect(bob.messages.map((m) => m.body)).to.deep.equal(['before', 'after']);
  });

  it('returns 1 and says so when sends are still unconfirmed at the end', async () => {
    await register('bob');
    const alice = run('alice', { drainTimeoutMs: 300 });
    alice.type('/START bob');
    await eventually('the conversation', () => alice.out().includes('conversation with bob open'));
    await server.stop();
    serverRunning = false;
    await eventually('the lost connection', () => alice.err().includes('connection lost — reconnecting in'));
    alice.type('never stored');
    alice.end();
    expect(await alice.exit).to.equal(1);
    expect(alice.err()).to.include('1 message not confirmed by the server');
  });

  it('reconnects and says so in one line each way', async () => {
    const bob = await listener('bob');
    const alice = run('alice');
    alice.type('/START bob');
    await eventually('the conversation', () => alice.out().includes('conversation with bob open'));
    const { port, dbPath } = server;
    await server.stop();
    serverRunning = false;
    await eventually('the lost connection', () => alice.err().includes('connection lost — reconnecting in'));
    alice.type('sent while away');
    server = await startTestServer({ dbPath, port });
    serverRunning = true;
    await eventually('the reconnect', () => alice.err().includes('reconnected'), 10_000);
    alice.end();
    expect(await alice.exit).to.equal(0);
    await eventually('the message', () => bob.messages.length === 1, 10_000);
    expect(bob.messages[0].body).to.equal('sent while away');
  });

  it('waits for a server that is not up yet, saying so on errors, then sends the piped lines', async () => {
    await register('bob');
    const { port, dbPath } = server;
    await server.stop();
    serverRunning = false;
    const alice = run('alice', { connectTimeoutMs: 10_000 });
    alice.type('/START bob', 'hello once you are up');
    alice.end();
    const waiting = `cannot reach 127.0.0.1:${port} — is \`tinychat serve\` running? retrying in `;
    await eventually('the retries', () => occurrences(alice.err(), waiting) >= 2);
    server = await startTestServer({ dbPath, port });
    serverRunning = true;
    expect(await alice.exit, alice.err()).to.equal(0);
    expect(alice.err()).not.to.include('error');
    const bob = await listener('bob');
    await eventually('the message', () => bob.messages.length === 1);
    expect(bob.messages[0].body).to.equal('hello once you are up');
  });

  it('returns 1 with a sentence naming the address when no server listens there within the connect timeout', async () => {
    const port = await unusedPort();
    const started = Date.now();
    const alice = run('alice', { target: `127.0.0.1:${port}`, connectTimeoutMs: 500 });
    expect(await alice.exit).to.equal(1);
    expect(Date.now() - started).to.be.within(400, 3000);
    const lines = alice.err().trimEnd().split('\n');
    expect(lines.length).to.be.at.least(2);
    expect(lines[0]).to.match(new RegExp(`^cannot reach 127\\.0\\.0\\.1:${port} — is \`tinychat serve\` running\\? retrying in \\d`));
    expect(lines[lines.length - 1]).to.equal(
      `error: cannot reach 127.0.0.1:${port} — is \`tinychat serve\` running? (gave up after 0.5 s; --connect-timeout sets how long to wait)`,
    );
  });

  it('exits at once on a wrong password, however long it would wait for the server', async () => {
    await register('alice');
    const started = Date.now();
    const alice = run('alice', { password: 'not the password', connectTimeoutMs: 30_000 });
    expect(await alice.exit).to.equal(1);
    expect(Date.now() - started).to.be.below(3000);
    expect(alice.err()).to.match(/^error: .*password/m);
    expect(alice.err()).not.to.include('retrying');
  });
});
