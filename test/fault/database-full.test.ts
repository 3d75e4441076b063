import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { WireClient, type WireStream } from '../support/grpc-client';
import { NO_ABUSE_LIMITS, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { oneTo, scaled, scaledTimeout } from './fault-support';

/**
 * The store cannot write: SQLite's max_page_count makes a real SQLITE_FULL
 * without filling a disk. Sends must fail one by one with UNAVAILABLE and no
 * receipt, the streams stay open, nothing receipted before is lost, and the
 * same sends go through once there is room.
 */
describe('a server whose database is full', function () {
  this.timeout(scaledTimeout(20_000));
  // 64 pages of 4 KiB: room for the schema, two users and a few dozen messages.
  const MAX_PAGES = 64;
  const BODY_BYTES = 4000;
  const MAX_ATTEMPTS = 500;
  const REFUSED_AFTER_FULL = 3;

  let server: TestServer | undefined;
  const clients: WireClient[] = [];
  const streams: WireStream[] = [];

  afterEach(async () => {
    for (const stream of streams.splice(0)) if (!stream.status) stream.cancel();
    await server?.stop();
    server = undefined;
    for (const client of clients.splice(0)) client.close();
    removeTempDirs();
  });

  async function user(name: string, target: string): Promise<WireClient> {
    const client = new WireClient(target);
    clients.push(client);
    await client.login(name);
    return client;
  }

  function open(client: WireClient): WireStream {
    const stream = client.converse();
    streams.push(stream);
    stream.resume();
    return stream;
  }

  /** Sends one message and waits for its answer (a retry's earlier answers do not count): a receipt or a frame error. */
  async function sendAndWait(stream: WireStream, clientId: string, body: string): Promise<'receipt' | 'error'> {
    const receipts = () => stream.receipts.filter((r) => r.clientId === clientId).length;
    const errors = () => stream.errors.filter((e) => e.clientId === clientId).length;
    const [receiptsBefore, errorsBefore] = [receipts(), errors()];
    stream.send('bob', body, clientId);
    await stream.until(`an answer to ${clientId}`, () => receipts() > receiptsBefore || errors() > errorsBefore);
    return receipts() > receiptsBefore ? 'receipt' : 'error';
  }

  it('refuses sends with UNAVAILABLE and no receipt, loses nothing receipted, and takes the same sends once there is room', async () => {
    server = await startTestServer({ maxPageCount: MAX_PAGES, limits: NO_ABUSE_LIMITS });
    const { target, dbPath, port } = server;
    const alice = await user('alice', target);
    const bob = await user('bob', target);
    const b = open(bob);
    const a = open(alice);
    await Promise.all([a.until('alice ready', (s) => s.frames.length > 0), b.until('bob ready', (s) => s.frames.length > 0)]);

    const body = (i: number) => `${i} `.padEnd(BODY_BYTES, 'x');
    let stored = 0;
    for (; stored < MAX_ATTEMPTS; stored++) {
      if ((await sendAndWait(a, `m${stored}`, body(stored))) === 'error') break;
    }
    expect(stored, 'messages stored before the database was full').to.be.within(1, MAX_ATTEMPTS - 1);
    for (let i = stored + 1; i <= stored + REFUSED_AFTER_FULL; i++) {
      expect(await sendAndWait(a, `m${i}`, body(i)), `send m${i} while full`).to.equal('error');
    }
    const refusedIds = oneTo(REFUSED_AFTER_FULL + 1).map((k) => `m${stored + k - 1}`);
    expect(a.errors.map((e) => e.clientId)).to.deep.equal(refusedIds);
    for (const error of a.errors) {
      expect(error.code).to.equal(status.UNAVAILABLE);
      expect(error.message).to.match(/full.*try again later/);
    }
    expect(a.receipts.map((r) => r.clientId)).to.deep.equal(oneTo(stored).map((k) => `m${k - 1}`));
    expect(a.status, 'the sender’s stream stays open').to.equal(undefined);

    await b.until('bob has every receipted message', (s) => s.messages.length >= stored);
    expect(b.messages.map((m) => m.sequence)).to.deep.equal(oneTo(stored));
    expect(b.status, 'the receiver’s stream stays open').to.equal(undefined);

    // Room again: the refused sends, retried with the same client ids, are stored once each.
    server.setMaxPageCount(100_000);
    for (const clientId of refusedIds) {
      expect(await sendAndWait(a, clientId, body(Number(clientId.slice(1)))), `retry of ${clientId}`).to.equal('receipt');
    }
    const retried = a.receipts.slice(stored);
    expect(retried.map((r) => [r.clientId, r.sequence, r.duplicate])).to.deep.equal(refusedIds.map((id, k) => [id, stored + k + 1, false]));
    const total = stored + refusedIds.length;
    await b.until('bob has the retried messages', (s) => s.messages.length >= total);
    expect(b.messages.map((m) => m.body)).to.deep.equal(oneTo(total).map((k) => body(k - 1)));

    // Everything receipted is on disk: a restarted server delivers it all, once, in order.
    for (const stream of streams.splice(0)) stream.cancel();
    await server.stop();
    server = await startTestServer({ dbPath, port, limits: NO_ABUSE_LIMITS });
    const again = open(bob);
    await again.until('everything after a restart', (s) => s.messages.length >= total);
    expect(again.messages.map((m) => [m.sequence, m.body])).to.deep.equal(oneTo(total).map((k) => [k, body(k - 1)]));
  });

  it('answers every one of many sends in flight when the database fills, with a receipt or UNAVAILABLE, leaving no gap', async () => {
    server = await startTestServer({ maxPageCount: MAX_PAGES, limits: NO_ABUSE_LIMITS });
    const alice = await user('alice', server.target);
    const bob = await user('bob', server.target);
    const b = open(bob);
    const a = open(alice);
    await Promise.all([a.until('alice ready', (s) => s.frames.length > 0), b.until('bob ready', (s) => s.frames.length > 0)]);

    const body = (i: number) => `${i} `.padEnd(BODY_BYTES, 'x');
    const SENDS = scaled(200);
    for (let i = 0; i < SENDS; i++) a.send('bob', body(i), `m${i}`);
    await a.until('an answer to every send', (s) => s.receipts.length + s.errors.length >= SENDS, scaledTimeout(5000));
    const receipted = a.receipts.map((r) => r.clientId);
    const refused = a.errors.map((e) => e.clientId);
    expect(receipted.length, 'some sends were stored').to.be.greaterThan(0);
    expect(refused.length, 'some sends were refused').to.be.greaterThan(0);
    expect(new Set([...receipted, ...refused]).size, 'one answer per send').to.equal(SENDS);
    expect(a.errors.every((e) => e.code === status.UNAVAILABLE)).to.equal(true);
    expect(a.receipts.map((r) => r.sequence), 'receipted sends numbered without gaps').to.deep.equal(oneTo(receipted.length));
    await b.until('bob has every receipted message', (s) => s.messages.length >= receipted.length, scaledTimeout(5000));
    expect(b.messages.map((m) => m.body)).to.deep.equal(receipted.map((id) => body(Number(id.slice(1)))));

    server.setMaxPageCount(100_000);
    for (const clientId of refused) a.send('bob', body(Number(clientId.slice(1))), clientId);
    await a.until('receipts for the retries', (s) => s.receipts.length >= SENDS, scaledTimeout(5000));
    expect(a.receipts.map((r) => r.sequence)).to.deep.equal(oneTo(SENDS));
    await b.until('bob has everything', (s) => s.messages.length >= SENDS, scaledTimeout(5000));
    expect(b.messages.map((m) => m.body)).to.deep.equal([...receipted, ...refused].map((id) => body(Number(id.slice(1)))));
  });
});
