import { expect } from 'chai';
import { join } from 'node:path';
import { ChatConnection, ClientError, type ConnectionOptions } from '../../src/client/connection';
import { watchConnection, type Watched } from '../support/connection-watcher';
import { startTestServer } from '../support/test-server';
import { makeTempDir, removeTempDir } from '../support/temp-dir';
import { eventually, sleep, unusedPort } from '../support/eventually';

type TestServer = Awaited<ReturnType<typeof startTestServer>>;

describe('ChatConnection', function () {
  let server: TestServer;
  let tempDir: string;
  let connections: ChatConnection[];

  beforeEach(async () => {
    tempDir = makeTempDir('tinychat-connection-', 'suite');
    server = await startTestServer({ dbPath: join(tempDir, 'chat.db') });
    connections = [];
  });

  afterEach(async () => {
    await Promise.all(connections.map((c) => c.close()));
    await server.stop();
    removeTempDir(tempDir);
  });

  function watch(user: string, target = server.target, options: Partial<ConnectionOptions> = {}): Watched {
    const watched = watchConnection(target, user, options);
    connections.push(watched.connection);
    return watched;
  }

  async function connected(user: string, options: Partial<ConnectionOptions> = {}): Promise<Watched> {
    const watched = watch(user, server.target, options);
    await watched.connection.connect();
    return watched;
  }

  it('logs in, opens the stream and reports connecting then connected', async () => {
    const alice = await connected('alice');
    expect(alice.connection.state).to.equal('connected');
    expect(alice.states.map((s) => s.state)).to.deep.equal(['connecting', 'connected']);
    expect(alice.states[1].reconnect).to.equal(false);
    expect(alice.connection.user).to.equal('alice');
    expect(alice.connection.lastSequence).to.equal(0);
  });

  it('takes the spelling the name was registered with', async () => {
    const first = await connected('Alice');
    await first.connection.close();
    const second = await connected('alice');
    expect(second.connection.user).to.equal('Alice');
  });

  it('delivers a message to the receiver once and confirms it to the sender with a receipt', async () => {
    const alice = await connected('alice');
    const bob = await connected('bob');
    const clientId = alice.connection.send('bob', 'hello bob');
    expect(alice.connection.pendingSends().map((s) => s.clientId)).to.deep.equal([clientId]);

    await eventually('the receipt', () => alice.receipts.length === 1);
    await eventually('the message', () => bob.messages.length === 1);
    await sleep(100);

    const receipt = alice.receipts[0];
    expect(receipt.clientId).to.equal(clientId);
    expect(receipt.duplicate).to.equal(false);
    expect(receipt.message).to.include({ sender: 'alice', receiver: 'bob', body: 'hello bob', sequence: 1 });
    expect(bob.messages).to.have.length(1);
    expect(bob.messages[0]).to.include({ sender: 'alice', receiver: 'bob', body: 'hello bob', sequence: 1, id: receipt.message.id });
    expect(bob.connection.lastSequence).to.equal(1);
    expect(alice.messages, 'own sends come as receipts, not messages').to.deep.equal([]);
    expect(alice.connection.pendingSends()).to.deep.equal([]);
  });

  it('gives a receiver who was offline the messages sent meanwhile, in order', async () => {
    const registering = await connected('bob');
    await registering.connection.close();
    const alice = await connected('alice');
    for (const body of ['one', 'two', 'three']) alice.connection.send('bob', body);
    expect(await alice.connection.drain(5000)).to.equal(true);

    const bob = await connected('bob');
    await eventually('three messages', () => bob.messages.length === 3);
    await sleep(100);
    expect(bob.messages.map((m) => [m.sequence, m.body])).to.deep.equal([
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ]);
  });

  it('starts after the acknowledged messages when the user connects again', async () => {
    const alice = await connected('alice');
    const bob = await connected('bob');
    alice.connection.send('bob', 'first');
    alice.connection.send('bob', 'second');
    await eventually('two messages', () => bob.messages.length === 2);
    await bob.connection.close();
    // The server writes acknowledged positions in batches every 100 ms.
    await sleep(300);

    alice.connection.send('bob', 'third');
    expect(await alice.connection.drain(5000)).to.equal(true);
    const bobAgain = await connected('bob');
    expect(bobAgain.connection.lastSequence).to.be.at.least(2);
    await eventually('the third message', () => bobAgain.messages.length === 1);
    await sleep(100);
    expect(bobAgain.messages.map((m) => m.body)).to.deep.equal(['third']);
  });

  it('waits in caughtUp() for the messages that were waiting, and acknowledges them on close()', async () => {
    const registering = await connected('bob');
    await registering.connection.close();
    const alice = await connected('alice');
    for (const body of ['one', 'two', 'three']) alice.connection.send('bob', body);
    expect(await alice.connection.drain(5000)).to.equal(true);

    const bob = await connected('bob');
    expect(await bob.connection.caughtUp(5000)).to.equal(true);
    expect(bob.messages.map((m) => m.body)).to.deep.equal(['one', 'two', 'three']);
    await bob.connection.close();

    const bobAgain = await connected('bob');
    expect(bobAgain.connection.lastSequence).to.equal(3);
    expect(await bobAgain.connection.caughtUp(5000)).to.equal(true);
    await sleep(100);
    expect(bobAgain.messages).to.deep.equal([]);
  });

  it("shows copies of the user's sends from another terminal once, and never on the sending one", async () => {
    const bob = await connected('bob');
    const laptop = await connected('alice');
    const phone = await connected('alice');
    laptop.connection.send('bob', 'sent from the laptop');
    await eventually('bob to get it', () => bob.messages.length === 1);
    await eventually('the phone to get the copy', () => phone.messages.length === 1);
    await sleep(100);
    expect(phone.messages[0]).to.include({ sender: 'alice', receiver: 'bob', body: 'sent from the laptop' });
    expect(phone.connection.lastSequence, 'copies do not move the own inbox position').to.equal(0);
    expect(laptop.messages).to.deep.equal([]);
    expect(laptop.receipts).to.have.length(1);
  });

  it('refuses a send to an unknown user with the server’s explanation', async () => {
    const alice = await connected('alice');
    const clientId = alice.connection.send('nobody', 'hello?');
    await eventually('the refusal', () => alice.failures.length === 1);
    const failure = alice.failures[0];
    expect(failure).to.include({ clientId, receiver: 'nobody', body: 'hello?', code: 5 });
    expect(failure.reason).to.include('nobody');
    expect(alice.connection.pendingSends()).to.deep.equal([]);
    expect(await alice.connection.drain(100)).to.equal(true);
  });

  it('paces sends the server refuses for the rate by its retry-after and resends them, in order and without failures', async () => {
    await server.stop();
    server = await startTestServer({ dbPath: join(tempDir, 'paced.db'), limits: { sendRate: { perSecond: 100, burst: 5 } } });
    const bob = await connected('bob');
    const alice = await connected('alice');
    const bodies = Array.from({ length: 60 }, (_, i) => `message ${i + 1}`);
    const clientIds = bodies.map((body) => alice.connection.send('bob', body));
    expect(await alice.connection.drain(5000)).to.equal(true);
    await eventually('every message', () => bob.messages.length >= bodies.length);
    await sleep(100);
    expect(alice.failures).to.deep.equal([]);
    expect(alice.errors).to.deep.equal([]);
    expect(alice.receipts.map((r) => r.clientId)).to.deep.equal(clientIds);
    expect(bob.messages.map((m) => m.body)).to.deep.equal(bodies);
  });

  it('fails, instead of resending forever, a send that made the server end the stream as larger than its max', async () => {
    // The body limit allows what the request limit does not, so the client cannot tell in advance.
    await server.stop();
    server = await startTestServer({ dbPath: join(tempDir, 'large.db'), limits: { maxBodyBytes: 1_048_576, maxReceiveBytes: 64 * 1024 } });
    const bob = await connected('bob');
    const alice = await connected('alice');
    const big = alice.connection.send('bob', 'x'.repeat(100 * 1024));
    alice.connection.send('bob', 'after');
    await eventually('the refusal', () => alice.failures.length === 1);
    expect(alice.failures[0]).to.include({ clientId: big, code: 8 });
    expect(alice.failures[0].reason).to.match(/too large .*split it/);
    await eventually('the next message', () => bob.messages.length === 1, 10_000);
    expect(bob.messages[0].body).to.equal('after');
    expect(alice.states.filter((s) => s.state === 'reconnecting')).to.have.length(1);
  });

  it('reports the current state, then the comings and goings, of the users it watches', async () => {
    const registering = await connected('bob');
    await registering.connection.close();
    const alice = await connected('alice', { watch: ['bob'] });
    await eventually('bob’s current state', () => alice.presence.find((p) => p.user === 'bob' && !p.online));
    const bob = await connected('bob');
    await eventually('bob online', () => alice.presence.find((p) => p.user === 'bob' && p.online));
    await bob.connection.close();
    await eventually('bob offline', () => alice.presence.filter((p) => p.user === 'bob' && !p.online).length === 2);
  });

  it('tells the server a new watch set only when it changed, and again on every new stream', async () => {
    await (await connected('bob')).connection.close();
    const carol = await connected('carol');
    const alice = await connected('alice');
    expect(alice.connection.watch(['bob']), 'a new set').to.equal(true);
    expect(alice.connection.watch(['BOB']), 'the same people').to.equal(false);
    await eventually('bob’s state', () => alice.presence.length === 1);
    expect(alice.connection.watch(['bob', 'carol'])).to.equal(true);
    await eventually('carol’s state', () => alice.presence.some((p) => p.user === 'carol' && p.online));
    expect(alice.connection.watching).to.deep.equal(['bob', 'carol']);

    const { port, dbPath } = server;
    await server.stop();
    await eventually('alice to notice', () => alice.connection.state !== 'connected');
    server = await startTestServer({ dbPath, port });
    await eventually('alice back', () => alice.connection.state === 'connected', 10_000);
    // The new stream watches the same people: bob coming online is reported.
    const bob = await connected('bob');
    await eventually('bob online after the restart', () => alice.presence.some((p) => p.user === 'bob' && p.online), 10_000);
    await bob.connection.close();
    await carol.connection.close();
  });

  it('resumes after a server restart with nothing lost or doubled, and delivers sends made meanwhile once and in order', async () => {
    const alice = await connected('alice');
    const bob = await connected('bob');
    alice.connection.send('bob', 'one');
    alice.connection.send('bob', 'two');
    await eventually('the first two messages', () => bob.messages.length === 2);

    const { port, dbPath } = server;
    await server.stop();
    await eventually('both to notice', () => alice.connection.state !== 'connected' && bob.connection.state !== 'connected');
    for (const body of ['three', 'four', 'five']) alice.connection.send('bob', body);
    await sleep(100);
    expect(alice.connection.pendingSends()).to.have.length(3);

    server = await startTestServer({ dbPath, port });
    await eventually('every receipt', () => alice.receipts.length === 5, 10_000);
    await eventually('every message', () => bob.messages.length >= 5, 10_000);
    await sleep(200);

    const bodies = ['one', 'two', 'three', 'four', 'five'];
    expect(bob.messages.map((m) => m.body)).to.deep.equal(bodies);
    expect(bob.messages.map((m) => m.sequence)).to.deep.equal([1, 2, 3, 4, 5]);
    expect(alice.receipts.map((r) => r.message.body)).to.deep.equal(bodies);
    expect([...alice.errors, ...bob.errors]).to.deep.equal([]);
    for (const watched of [alice, bob]) {
      expect(watched.connection.state).to.equal('connected');
      const reconnecting = watched.states.find((s) => s.state === 'reconnecting');
      expect(reconnecting?.delayMs).to.be.a('number');
      expect(watched.states[watched.states.length - 1]).to.include({ state: 'connected', reconnect: true });
    }
  });

  it('logs in again, and follows the new inbox, when a restarted server no longer knows the session', async () => {
    const alice = await connected('alice');
    const bob = await connected('bob');
    bob.connection.send('alice', 'before');
    await eventually('the first message', () => alice.messages.length === 1);
    const { port } = server;
    await server.stop();
    await eventually('the lost connections', () => alice.connection.state !== 'connected' && bob.connection.state !== 'connected');

    // A new database on the same address: the old tokens and inboxes mean nothing there.
    server = await startTestServer({ dbPath: join(tempDir, 'other.db'), port });
    await eventually('the reconnects', () => alice.connection.state === 'connected' && bob.connection.state === 'connected', 10_000);
    expect(alice.notices.some((n) => n.includes('logged in again'))).to.equal(true);
    expect(alice.notices.some((n) => n.includes("continuing from the server's position"))).to.equal(true);
    expect(alice.connection.lastSequence).to.equal(0);

    bob.connection.send('alice', 'after');
    await eventually('the message on the new server', () => alice.messages.length === 2);
    expect(alice.messages[1]).to.include({ body: 'after', sequence: 1 });
    expect(alice.errors).to.deep.equal([]);
    const users = await alice.connection.command('/USERS');
    expect(users.result?.$case).to.equal('users');
  });

  it('fails to connect with a sentence naming the address when no server listens there', async () => {
    const port = await unusedPort();
    const watched = watch('alice', `127.0.0.1:${port}`);
    const error = await watched.connection.connect().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).to.be.instanceOf(ClientError);
    expect((error as ClientError).message).to.equal(`cannot reach 127.0.0.1:${port} — is \`tinychat serve\` running?`);
    expect((error as ClientError).code).to.equal(14);
    expect(watched.connection.state).to.equal('closed');
  });

  it('fails to connect with the server’s explanation when the name is refused', async () => {
    const watched = watch('not a name!');
    const error = await watched.connection.connect().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).to.be.instanceOf(ClientError);
    expect((error as ClientError).code).to.equal(3);
    expect((error as ClientError).message).to.include('not a name!');
    expect((error as ClientError).message).not.to.match(/^\d+ [A-Z_]+:/);
  });

  it('answers commands with the typed result and the printable text', async () => {
    const alice = await connected('alice');
    const response = await alice.connection.command('/TIME');
    expect(response.result?.$case).to.equal('time');
    expect(response.text).to.be.a('string').and.not.equal('');
  });

  it('rejects failed commands with the server’s message and the gRPC code', async () => {
    const alice = await connected('alice');
    const notFound = await alice.connection.command('/START nobody').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(notFound).to.be.instanceOf(ClientError);
    expect((notFound as ClientError).code).to.equal(5);
    expect((notFound as ClientError).message).to.include('nobody');
    expect((notFound as ClientError).message).not.to.match(/^\d+ [A-Z_]+:/);

    const unknown = await alice.connection.command('/FROBNICATE').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((unknown as ClientError).code).to.equal(3);
  });

  it('closes for good: state closed, no more sends, /QUIT ends the session', async () => {
    const alice = await connected('alice');
    await alice.connection.close();
    expect(alice.connection.state).to.equal('closed');
    expect(() => alice.connection.send('bob', 'too late')).to.throw(ClientError, /closed/);
    await sleep(100);
    expect(alice.states.filter((s) => s.state === 'reconnecting')).to.deep.equal([]);
  });
});
