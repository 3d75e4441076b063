import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { ChatConnection } from '../../src/client/connection';
import { eventually, unusedPort } from '../support/eventually';
import { runCli } from '../support/cli';
import { busUrl, freshDatabase, uniqueName, type TestDatabase } from '../support/cluster';
import { TEST_PASSWORD, WireClients, type WireClient, type WireStream } from '../support/grpc-client';
import { startNatsServer, type NatsServerProcess } from '../support/nats-server-process';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { NO_ABUSE_LIMIT_FLAGS } from '../support/test-server';

async function ready(stream: WireStream): Promise<WireStream> {
  await stream.until('the greeting', (s) => s.frames.some((f) => f.ready !== undefined), 10_000);
  return stream;
}

async function isOnline(client: WireClient, name: string): Promise<boolean> {
  const response = await client.command('/USERS');
  if (response.result?.$case !== 'users') throw new Error(`unexpected /USERS answer: ${response.text}`);
  return response.result.users.users.some((u) => u.name === name && u.online);
}

/**
 * Three `tinychat serve` processes on one PostgreSQL database and one NATS
 * (a private nats-server, so that a test can restart it), as an operator
 * runs them.
 */
describe('three tinychat serve processes on one PostgreSQL database and one NATS', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let nats: NatsServerProcess;
  let bus: string;
  let nodes: ServerProcess[];
  let wire: WireClients;

  async function startNode(name: string): Promise<ServerProcess> {
    return startServerProcess({ dbPath: database.url, extraArgs: ['--bus', bus, '--node-name', name, ...NO_ABUSE_LIMIT_FLAGS] });
  }

  beforeEach(async function () {
    database = await freshDatabase();
    nats = await startNatsServer(await unusedPort());
    bus = busUrl(uniqueName('tinychat-test'), nats.url);
    nodes = await Promise.all(['n1', 'n2', 'n3'].map(startNode));
    wire = new WireClients(() => nodes[0].target);
  });

  afterEach(async function () {
    wire.cancelStreams();
    wire.closeClients();
    await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
    await nats.stop();
    await database.drop();
  });

  it('lets people on different nodes chat, and names the node in each greeting', async function () {
    const [alice, bob, carol] = await Promise.all([
      wire.user('alice', nodes[0].target),
      wire.user('bob', nodes[1].target),
      wire.user('carol', nodes[2].target),
    ]);
    const streams = await Promise.all([alice, bob, carol].map((client) => ready(wire.open(client))));
    expect(streams.map((s) => s.frames[0].ready?.node)).to.deep.equal(['n1', 'n2', 'n3']);
    streams[0].send('bob', 'hi bob, from n1', 'a1');
    streams[1].send('carol', 'hi carol, from n2', 'b1');
    streams[2].send('alice', 'hi alice, from n3', 'c1');
    await streams[1].until('alice’s message', (s) => s.messages.some((m) => m.body === 'hi bob, from n1'));
    await streams[2].until('bob’s message', (s) => s.messages.some((m) => m.body === 'hi carol, from n2'));
    await streams[0].until('carol’s message', (s) => s.messages.some((m) => m.body === 'hi alice, from n3'));
  });

  it('loses nothing receipted when the sender’s node is killed mid-burst: the client moves on and nothing is doubled', async function () {
    const bob = await wire.user('bob', nodes[1].target);
    const bobStream = await ready(wire.open(bob));
    const sender = new ChatConnection({
      server: nodes.map((node) => node.target).join(','),
      user: 'sender',
      password: TEST_PASSWORD,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const receipted = new Set<string>();
    sender.on('receipt', (sent) => receipted.add(sent.message.body));
    const servers: string[] = [];
    sender.on('state', (change) => change.state === 'connected' && servers.push(change.node ?? '?'));
    try {
      await sender.connect();
      expect(sender.node).to.equal('n1');
      const bodies = Array.from({ length: 300 }, (_, i) => `m${i + 1}`);
      for (const body of bodies) sender.send('bob', body);
      await eventually('50 receipts', () => receipted.size >= 50, 10_000);
      await nodes[0].stop('SIGKILL');
      expect(await sender.drain(30_000), 'every send answered').to.equal(true);
      expect(receipted.size).to.equal(300);
      expect(servers[0]).to.equal('n1');
      expect(servers.length, `connected to ${servers.join(', ')}`).to.be.at.least(2);
      expect(servers.slice(1)).to.not.include('n1');
      await bobStream.until('all 300 messages', (s) => s.messages.length >= 300, 20_000);
      expect(bobStream.messages.map((m) => m.body)).to.deep.equal(bodies);
      expect(bobStream.messages.map((m) => m.sequence)).to.deep.equal(bodies.map((_, i) => i + 1));
    } finally {
      await sender.close();
    }
  });

  it('shows the users of a killed node offline everywhere within 15 seconds', async function () {
    const alice = await wire.user('alice', nodes[0].target);
    const dave = await wire.user('dave', nodes[2].target);
    await ready(wire.open(dave));
    await eventually('dave online as seen from n1', () => isOnline(alice, 'dave'), 5000);
    await nodes[2].stop('SIGKILL');
    const killedAt = Date.now();
    await eventually('dave offline as seen from n1', async () => !(await isOnline(alice, 'dave')), 15_000);
    expect(Date.now() - killedAt).to.be.below(15_000);
  });

  it('keeps delivering across NATS being restarted mid-conversation, losing nothing', async function () {
    const alice = await wire.user('alice', nodes[0].target);
    const bob = await wire.user('bob', nodes[1].target);
    const aliceStream = await ready(wire.open(alice));
    const bobStream = await ready(wire.open(bob));
    aliceStream.send('bob', 'before', 'before');
    await bobStream.until('the first message', (s) => s.messages.length === 1);

    await nats.stop();
    for (let i = 1; i <= 10; i++) aliceStream.send('bob', `during ${i}`, `during-${i}`);
    await aliceStream.until('ten more receipts: the store has them', (s) => s.receipts.length === 11, 10_000);
    // New calls are refused while the node cannot reach the bus, saying so.
    await eventually(
      'n1 to refuse calls without its bus',
      () => alice.command('/TIME').then(() => false, (err: { code: number; details: string }) => err.code === status.UNAVAILABLE && /bus/.test(err.details)),
      5000,
    );

    nats = await startNatsServer(nats.port);
    const back = Date.now();
    await bobStream.until('every message sent while NATS was down', (s) => s.messages.length === 11, 15_000);
    expect(Date.now() - back).to.be.below(10_000);
    expect(bobStream.messages.map((m) => m.body)).to.deep.equal(['before', ...Array.from({ length: 10 }, (_, i) => `during ${i + 1}`)]);
    await eventually('n1 to serve again', () => alice.command('/TIME').then(() => true, () => false), 10_000);
  });

  it('ends an account’s streams on the other nodes when an operator runs tinychat user del there', async function () {
    const erinOn2 = await wire.user('erin', nodes[1].target);
    const erinOn3 = await wire.user('erin', nodes[2].target);
    const streams = [await ready(wire.open(erinOn2)), await ready(wire.open(erinOn3))];
    const result = await runCli(['user', 'del', 'erin', '--db', database.url, '--bus', bus]);
    expect(result.code, result.stderr).to.equal(0);
    const done = Date.now();
    for (const stream of streams) {
      const end = await stream.ended(2000);
      expect(end.code).to.equal(status.UNAUTHENTICATED);
    }
    expect(Date.now() - done).to.be.below(1000);
  });
});
