import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { UserAdmin } from '../../src/admin/user-admin';
import { openPostgresStore } from '../../src/store/postgres-store';
import { eventually } from '../support/eventually';
import { WireClient, WireClients, type WireStream } from '../support/grpc-client';
import { busUrl, freshDatabase, startNode, uniqueName, type TestDatabase, type TestNode } from '../support/cluster';
import { startTcpProxy } from '../support/tcp-proxy';
import { HealthProbe } from '../support/health-probe';
import { expectStatus } from '../support/expect-status';

/** Waits for a stream's greeting. */
async function ready(stream: WireStream): Promise<WireStream> {
  await stream.until('the greeting', (s) => s.frames.some((f) => f.ready !== undefined));
  return stream;
}

async function usersOnline(client: WireClient): Promise<Record<string, boolean>> {
  const response = await client.command('/USERS');
  if (response.result?.$case !== 'users') throw new Error(`unexpected /USERS answer: ${response.text}`);
  return Object.fromEntries(response.result.users.users.map((u) => [u.name, u.online]));
}

describe('several server nodes on one PostgreSQL database and one NATS', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let nodes: TestNode[];
  let wire: WireClients;

  beforeEach(async function () {
    database = await freshDatabase();
    const bus = busUrl(uniqueName('tinychat-test'));
    nodes = [await startNode('node-a', database.url, bus), await startNode('node-b', database.url, bus)];
    wire = new WireClients(() => nodes[0].target);
  });

  afterEach(async function () {
    wire.cancelStreams();
    wire.closeClients();
    for (const node of nodes) await node.stop();
    await database.drop();
  });

  const [A, B] = [0, 1];
  const user = (name: string, node: number) => wire.user(name, nodes[node].target);

  it('delivers between users on different nodes, both ways, live and in order', async function () {
    const alice = await user('alice', A);
    const bob = await user('bob', B);
    const aliceStream = await ready(wire.open(alice));
    const bobStream = await ready(wire.open(bob));
    for (let i = 1; i <= 20; i++) aliceStream.send('bob', `a${i}`, `a${i}`);
    for (let i = 1; i <= 20; i++) bobStream.send('alice', `b${i}`, `b${i}`);
    await bobStream.until('alice’s 20 messages', (s) => s.messages.filter((m) => m.sender === 'alice').length === 20);
    await aliceStream.until('bob’s 20 messages', (s) => s.messages.filter((m) => m.sender === 'bob').length === 20);
    expect(bobStream.messages.map((m) => m.body)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `a${i + 1}`));
    expect(bobStream.messages.map((m) => m.sequence)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(aliceStream.messages.map((m) => m.body)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `b${i + 1}`));
    expect(aliceStream.frames[0].ready?.node).to.equal('node-a');
    expect(bobStream.frames[0].ready?.node).to.equal('node-b');
  });

  it('delivers to a user who was offline when another node stored the message', async function () {
    const alice = await user('alice', A);
    const bob = await user('bob', B);
    const aliceStream = await ready(wire.open(alice));
    aliceStream.send('bob', 'while you were away', 'away-1');
    await aliceStream.until('the receipt', (s) => s.receipts.length === 1);
    const bobStream = await ready(wire.open(bob));
    await bobStream.until('the waiting message', (s) => s.messages.length === 1);
    expect(bobStream.messages[0]).to.include({ sender: 'alice', body: 'while you were away', sequence: 1 });
  });

  it('gives two streams of one user on two nodes every message, and copies of what either sends', async function () {
    const alice = await user('alice', A);
    const bobOnA = await user('bob', A);
    const bobOnB = await user('bob', B);
    const aliceStream = await ready(wire.open(alice));
    const first = await ready(wire.open(bobOnA));
    const second = await ready(wire.open(bobOnB));
    for (let i = 1; i <= 10; i++) aliceStream.send('bob', `m${i}`, `m${i}`);
    for (const stream of [first, second]) {
      await stream.until('ten messages', (s) => s.messages.length === 10);
      expect(stream.messages.map((m) => m.sequence)).to.deep.equal(Array.from({ length: 10 }, (_, i) => i + 1));
    }
    first.send('alice', 'from bob’s first terminal', 'bob-1');
    await second.until('the copy of bob’s own message', (s) => s.messages.some((m) => m.body === 'from bob’s first terminal'));
    await aliceStream.until('bob’s reply', (s) => s.messages.some((m) => m.sender === 'bob'));
  });

  it('shows a user online on every node while a stream is open on any, and offline everywhere once it closes', async function () {
    const alice = await user('alice', A);
    const bob = await user('bob', B);
    const watcher = await ready(wire.open(alice, 0, true));
    expect((await usersOnline(alice)).bob).to.equal(false);
    const bobStream = await ready(wire.open(bob));
    await eventually('bob online as seen from node A', async () => (await usersOnline(alice)).bob === true, 3000);
    await watcher.until('bob coming online', (s) => s.presence.some((p) => p.user === 'bob' && p.online));
    bobStream.cancel();
    await eventually('bob offline as seen from node A', async () => (await usersOnline(alice)).bob === false, 3000);
    await watcher.until('bob going offline', (s) => s.presence.some((p) => p.user === 'bob' && !p.online));
  });

  it('takes a node that falls silent for dead: its users go offline on the others', async function () {
    const alice = await user('alice', A);
    const bob = await user('bob', B);
    await ready(wire.open(bob));
    await eventually('bob online as seen from node A', async () => (await usersOnline(alice)).bob === true, 3000);
    // Cut node B off the bus without a goodbye, as a crash would.
    await nodes[B].bus.close();
    const cutAt = Date.now();
    await eventually('bob offline as seen from node A', async () => (await usersOnline(alice)).bob === false, 5000);
    expect(Date.now() - cutAt).to.be.below(4000);
  });

  it('ends a session’s streams on every node after /QUIT on one of them, within a second', async function () {
    const bobOnA = await user('bob', A);
    // The same session (token) on node B.
    const sameSessionOnB = new WireClient(nodes[B].target);
    wire.clients.push(sameSessionOnB);
    const onB = await ready(wire.track(sameSessionOnB.converse(bobOnA.token), (s) => s.resume()));
    const started = Date.now();
    await bobOnA.command('/QUIT');
    const ended = await onB.ended(2000);
    expect(ended.code).to.equal(status.OK);
    expect(Date.now() - started).to.be.below(1000);
  });

  it('ends an account’s streams on every node when an operator disables it, within a second', async function () {
    const eve = await user('eve', A);
    const eveOnB = await user('eve', B);
    const streams = [await ready(wire.open(eve)), await ready(wire.open(eveOnB))];
    const operatorStore = await openPostgresStore(database.url, { maxConnections: 1 });
    try {
      await new UserAdmin(operatorStore, 10).del('eve');
    } finally {
      await operatorStore.close();
    }
    const started = Date.now();
    for (const stream of streams) {
      const end = await stream.ended(2000);
      expect(end.code).to.equal(status.UNAUTHENTICATED);
      expect(end.details).to.contain('disabled');
    }
    expect(Date.now() - started).to.be.below(1000);
  });

  it('counts streams per user and failed logins across the nodes', async function () {
    await nodes[A].stop();
    await nodes[B].stop();
    const bus = busUrl(uniqueName('tinychat-test'));
    const limits = { maxStreamsPerUser: 2, login: { perName: 3, perAddress: 100, windowMs: 60_000 } };
    nodes = [await startNode('node-a', database.url, bus, { limits }), await startNode('node-b', database.url, bus, { limits })];
    const onA = await user('carol', A);
    const onB = await user('carol', B);
    await ready(wire.open(onA));
    await ready(wire.open(onB));
    await eventually('node B to know of carol’s stream on node A', async () => nodes[B].server.streamCount() === 1 && (await usersOnline(onB)).carol === true, 3000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const third = wire.open(onB);
    const refused = await third.ended();
    expect(refused.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(refused.details).to.contain('2 streams');

    // Guesses spread over the two nodes count together.
    const guesserA = await wire.user('mallory', nodes[A].target);
    const guesserB = await wire.user('mallory2', nodes[B].target);
    for (const guesser of [guesserA, guesserB, guesserA]) {
      await expectStatus(guesser.login('carol', 'wrong password'), status.UNAUTHENTICATED);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expectStatus(guesserB.login('carol', 'another wrong one'), status.RESOURCE_EXHAUSTED);
  });

  it('says NOT_SERVING and refuses calls with UNAVAILABLE while its database is out of reach, then recovers by itself, losing nothing', async function () {
    const postgres = new URL(database.url);
    const proxy = await startTcpProxy(postgres.hostname, Number(postgres.port || 5432));
    const behindProxy = new URL(database.url);
    behindProxy.port = String(proxy.port);
    const bus = busUrl(uniqueName('tinychat-test'));
    const cut = await startNode('node-c', behindProxy.toString(), bus);
    nodes.push(cut);
    const health = new HealthProbe(cut.target);
    try {
      const alice = await user('alice', 2);
      const aliceStream = await ready(wire.open(alice));
      aliceStream.send('alice', 'a note before the outage', 'before');
      await aliceStream.until('the receipt', (s) => s.receipts.length === 1);

      proxy.cut();
      await eventually('NOT_SERVING', async () => (await health.check('tinychat.v1.Chat')) === 'NOT_SERVING', 8000);
      const refused = await expectStatus(alice.command('/TIME'), status.UNAVAILABLE);
      expect(refused.details).to.contain('cannot use its database').and.contain('try again');

      proxy.restore();
      await eventually('SERVING again', async () => (await health.check('tinychat.v1.Chat')) === 'SERVING', 8000);
      expect((await alice.command('/TIME')).result?.$case).to.equal('time');
      const replay = await ready(wire.open(alice, 0));
      await replay.until('the note from before', (s) => s.messages.length === 1);
      expect(replay.messages[0].body).to.equal('a note before the outage');
    } finally {
      health.close();
      await cut.stop();
      nodes.pop();
      await proxy.close();
    }
  });
});
