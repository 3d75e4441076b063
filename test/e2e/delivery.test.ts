import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { WireClients, type WireClient } from '../support/grpc-client';

describe('delivery', () => {
  let server: TestServer;
  const wire = new WireClients(() => server.target);
  const user = (name: string) => wire.user(name);
  const open = (client: WireClient, afterSequence?: number, watchPresence = false) => wire.open(client, afterSequence, watchPresence);

  beforeEach(async () => {
    server = await startTestServer();
  });

  afterEach(async () => {
    wire.cancelStreams();
    await server.stop();
    wire.closeClients();
    removeTempDirs();
  });

  it('delivers a message live to the receiver and a receipt to the sender', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a = open(alice);
    const b = open(bob);
    await b.until('bob ready', (s) => s.frames.length > 0);
    a.send('bob', 'hi bob', 'm1');
    await b.until('the message', (s) => s.messages.length === 1);
    await a.until('the receipt', (s) => s.receipts.length === 1);
    const [message] = b.messages;
    expect(message).to.include({ sender: 'alice', receiver: 'bob', body: 'hi bob', sequence: 1 });
    expect(message.id).to.be.greaterThan(0);
    expect(message.time).to.be.instanceOf(Date);
    expect(a.receipts[0]).to.include({ clientId: 'm1', id: message.id, sequence: 1, receiver: 'bob', duplicate: false });
  });

  it('greets each stream with the user, newest and acknowledged sequence', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a = open(alice);
    a.send('bob', 'one', 'm1');
    a.send('bob', 'two', 'm2');
    await a.until('receipts', (s) => s.receipts.length === 2);
    const b = bob.converse();
    wire.track(b);
    await b.until('ready', (s) => s.frames.length > 0);
    expect(b.frames[0].ready).to.deep.equal({ user: 'bob', lastSequence: 2, ackedSequence: 0, maxBodyBytes: 4096, node: server.server.nodeName });
  });

  it('holds messages for an offline user and delivers them in order when they connect', async () => {
    const alice = await user('alice');
    await user('bob');
    const a = open(alice);
    for (let i = 1; i <= 5; i++) a.send('bob', `note ${i}`, `m${i}`);
    await a.until('receipts', (s) => s.receipts.length === 5);
    const bob = await user('bob');
    const b = open(bob);
    await b.until('the backlog', (s) => s.messages.length === 5);
    expect(b.messages.map((m) => m.body)).to.deep.equal(['note 1', 'note 2', 'note 3', 'note 4', 'note 5']);
    expect(b.messages.map((m) => m.sequence)).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('sends every message to each of the receiver’s streams, and a copy to the sender’s other streams', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a1 = open(alice);
    const a2 = open(alice);
    const b1 = open(bob);
    const b2 = open(bob);
    await Promise.all([a2, b1, b2].map((s) => s.until('ready', (x) => x.frames.length > 0)));
    a1.send('bob', 'to both', 'm1');
    await b1.until('message on b1', (s) => s.messages.length === 1);
    await b2.until('message on b2', (s) => s.messages.length === 1);
    await a2.until('copy on a2', (s) => s.messages.length === 1);
    expect(a2.messages[0]).to.include({ sender: 'alice', receiver: 'bob', body: 'to both' });
    await a1.until('receipt', (s) => s.receipts.length === 1);
    expect(a1.messages).to.have.length(0);
    expect(a2.receipts).to.have.length(0);
  });

  it('resumes after the last sequence seen and delivers exactly what was missed', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a = open(alice);
    const first = open(bob);
    for (let i = 1; i <= 3; i++) a.send('bob', `m${i}`, `c${i}`);
    await first.until('three', (s) => s.messages.length === 3);
    first.cancel();
    for (let i = 4; i <= 6; i++) a.send('bob', `m${i}`, `c${i}`);
    await a.until('receipts', (s) => s.receipts.length === 6);
    const second = open(bob, 3);
    await second.until('the missed three', (s) => s.messages.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(second.messages.map((m) => m.body)).to.deep.equal(['m4', 'm5', 'm6']);
  });

  it('starts after the acknowledged position when the client does not say where', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a = open(alice);
    const first = open(bob);
    for (let i = 1; i <= 4; i++) a.send('bob', `m${i}`, `c${i}`);
    await first.until('four', (s) => s.messages.length === 4);
    first.ack(2);
    const status_ = await first.finish();
    expect(status_.code).to.equal(status.OK);
    const second = open(bob);
    await second.until('ready', (s) => s.frames.length > 0);
    expect(second.frames[0].ready?.ackedSequence).to.equal(2);
    await second.until('the unacknowledged two', (s) => s.messages.length === 2);
    expect(second.messages.map((m) => m.sequence)).to.deep.equal([3, 4]);
  });

  it('never stores a retried send twice: the retry gets the original receipt', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a = open(alice);
    const b = open(bob);
    a.send('bob', 'once', 'same-id');
    a.send('bob', 'once', 'same-id');
    await a.until('two receipts', (s) => s.receipts.length === 2);
    const [original, retry] = a.receipts;
    expect(original.duplicate).to.equal(false);
    expect(retry).to.include({ id: original.id, sequence: original.sequence, duplicate: true });
    // A retry on a new stream, as after a reconnect, is recognised too.
    a.cancel();
    const again = open(alice);
    again.send('bob', 'once', 'same-id');
    await again.until('receipt', (s) => s.receipts.length === 1);
    expect(again.receipts[0]).to.include({ id: original.id, duplicate: true });
    a.send('bob', 'marker', 'other-id');
    again.send('bob', 'marker', 'marker-id');
    await b.until('marker', (s) => s.messages.some((m) => m.body === 'marker'));
    expect(b.messages.filter((m) => m.body === 'once')).to.have.length(1);
  });

  it('stamps sender, id, time and sequence itself', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a = open(alice);
    const b = open(bob);
    const before = Date.now();
    a.send('bob', 'who am I', 'm1');
    await b.until('message', (s) => s.messages.length === 1);
    const message = b.messages[0];
    expect(message.sender).to.equal('alice');
    expect(message.time!.getTime()).to.be.within(before - 1000, Date.now() + 1000);
  });

  it('uses the receiver’s registered spelling whatever case the sender typed', async () => {
    const alice = await user('alice');
    const bob = await user('Bob');
    const a = open(alice);
    const b = open(bob);
    a.send('BOB', 'case', 'm1');
    await b.until('message', (s) => s.messages.length === 1);
    expect(b.messages[0].receiver).to.equal('Bob');
  });

  it('tells presence watchers when a user comes online and goes offline', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a = open(alice, undefined, true);
    await a.until('ready', (s) => s.frames.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const b = open(bob);
    await a.until('bob online', (s) => s.presence.some((p) => p.user === 'bob' && p.online));
    b.cancel();
    await a.until('bob offline', (s) => s.presence.some((p) => p.user === 'bob' && !p.online));
    const users = await alice.command('/USERS');
    const listed = users.result?.$case === 'users' ? users.result.users.users : [];
    expect(listed.find((u) => u.name === 'bob')?.online).to.equal(false);
    expect(listed.find((u) => u.name === 'alice')?.online).to.equal(true);
  });

  it('ends a half-closed stream once its sends are answered', async () => {
    const alice = await user('alice');
    await user('bob');
    const a = alice.converse();
    wire.track(a);
    a.resume();
    a.send('bob', 'then bye', 'm1');
    const ended = await a.finish();
    expect(ended.code).to.equal(status.OK);
    expect(a.receipts).to.have.length(1);
  });

  it('cuts off a stream that falls too far behind, and a resume gets everything in order', async () => {
    await server.stop();
    server = await startTestServer({ queueLimit: 16, limits: { sendRate: { perSecond: 0, burst: 1 } } });
    const alice = await user('alice');
    const bob = await user('bob');
    const b = open(bob);
    await b.until('ready', (s) => s.frames.length > 0);
    b.call.pause(); // bob reads nothing from now on
    const a = open(alice);
    const body = 'x'.repeat(4000);
    const count = 400;
    for (let i = 1; i <= count; i++) a.send('bob', `${i} ${body}`, `m${i}`);
    await a.until('every receipt', (s) => s.receipts.length === count, 15_000);
    b.call.resume();
    const ended = await b.ended(10_000);
    expect(ended.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(ended.details).to.match(/reconnect/);
    const seen = b.messages.map((m) => m.sequence);
    const again = open(bob, seen.length ? seen[seen.length - 1] : 0);
    await again.until('the rest', (s) => seen.length + s.messages.length === count, 10_000);
    const all = [...seen, ...again.messages.map((m) => m.sequence)];
    expect(all).to.deep.equal(Array.from({ length: count }, (_, i) => i + 1));
  });

  it("answers a stream's frames on that stream only, so a burst of refusals neither reaches nor cuts off the user's other stream", async () => {
    await server.stop();
    const QUEUE_LIMIT = 16;
    server = await startTestServer({ queueLimit: QUEUE_LIMIT, limits: { sendRate: { perSecond: 0, burst: 1 } } });
    const alice = await user('alice');
    await user('bob');
    const sender = open(alice);
    const sibling = open(alice);
    await sender.until('ready', (s) => s.frames.length > 0);
    await sibling.until('ready', (s) => s.frames.length > 0);
    // Far more refusals than the queue the two streams share may hold, in
    // one burst: an empty frame is refused as soon as it is read.
    const refused = QUEUE_LIMIT * 20;
    for (let i = 1; i <= refused; i++) sender.write({ kind: undefined });
    await sender.until('every refusal', (s) => s.errors.length === refused, 10_000);
    expect(sender.errors.every((e) => e.code === status.INVALID_ARGUMENT)).to.equal(true);
    sender.send('bob', 'still here', 'kept');
    await sender.until('the receipt', (s) => s.receipts.length === 1);
    await sibling.until('the copy of what the other stream sent', (s) => s.messages.length === 1);
    expect(sibling.errors, 'refusals belong to the stream that sent').to.deep.equal([]);
    expect(sibling.receipts, 'receipts belong to the stream that sent').to.deep.equal([]);
    expect(sender.status).to.equal(undefined);
    expect(sibling.status).to.equal(undefined);
  });

  it('slows down a stream that sends without reading its answers instead of cutting it off, and then answers every frame', async () => {
    await server.stop();
    const QUEUE_LIMIT = 16;
    server = await startTestServer({ queueLimit: QUEUE_LIMIT, limits: { sendRate: { perSecond: 0, burst: 1 } } });
    const alice = await user('alice');
    const a = open(alice);
    await a.until('ready', (s) => s.frames.length > 0);
    a.call.pause(); // alice reads nothing for a while
    const refused = 3000; // about 300 KB of answers: more than HTTP/2 lets through unread
    for (let i = 1; i <= refused; i++) a.write({ kind: undefined });
    // Time for the server to fill the stream and stop reading it; a queue
    // would have cut the stream off by now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    a.call.resume();
    await a.until('every refusal', (s) => s.errors.length === refused, 15_000);
    a.send('alice', 'note to self', 'kept');
    await a.until('the receipt', (s) => s.receipts.length === 1);
    expect(a.status).to.equal(undefined);
  });

  it('delivers held messages after the server restarts on the same database', async () => {
    const alice = await user('alice');
    await user('bob');
    const a = open(alice);
    a.send('bob', 'before restart', 'm1');
    await a.until('receipt', (s) => s.receipts.length === 1);
    const { dbPath, port } = server;
    await server.stop();
    await a.ended();
    expect(a.status?.code).to.equal(status.UNAVAILABLE);
    server = await startTestServer({ dbPath, port });
    const bob = await user('bob');
    const b = open(bob);
    await b.until('the held message', (s) => s.messages.length === 1);
    expect(b.messages[0].body).to.equal('before restart');
  });
});
