import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { join } from 'node:path';
import { memory } from '../../scripts/bench/proc-stats';
import type { ServerFrame } from '../../src/gen/tinychat/v1/chat';
import { eventually } from '../support/eventually';
import { WireClient, type WireStream } from '../support/grpc-client';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, NO_ABUSE_LIMIT_FLAGS, removeTempDirs } from '../support/test-server';
import { FAULT_SCALE, oneTo, scaled, scaledTimeout } from './fault-support';

const MIB = 1024 * 1024;

/**
 * A receiver that stops reading while a sender floods it. Its stream must be
 * cut off (the server does not hold the backlog in memory) and, once it
 * reads again and resumes, it must get every message, in order.
 */
describe('a receiver that reads nothing while a sender floods it', function () {
  this.timeout(scaledTimeout(40_000));
  const QUEUE_LIMIT = 64;
  const WARMUP = 5000;
  const MESSAGES = WARMUP + scaled(25_000);
  const BODY_BYTES = 4000;
  const SEND_WINDOW = 1000;
  // The flood is 25,000 × 4 KB (95 MiB at scale 1, more when soaking). A
  // server that kept the receiver's backlog would grow by at least that
  // much; after the warm-up, normal growth stays far under this bound,
  // whatever the size of the flood.
  const RSS_GROWTH_BOUND = 40 * MIB;

  let server: ServerProcess | undefined;
  const clients: WireClient[] = [];
  const streams: WireStream[] = [];

  afterEach(async () => {
    for (const stream of streams.splice(0)) {
      stream.call.resume();
      if (!stream.status) stream.cancel();
    }
    for (const client of clients.splice(0)) client.close();
    await server?.stop('SIGKILL');
    server = undefined;
    removeTempDirs();
  });

  async function user(name: string): Promise<WireClient> {
    const client = new WireClient(server!.target);
    clients.push(client);
    await client.login(name);
    return client;
  }

  function open(client: WireClient, afterSequence?: number): WireStream {
    const stream = client.converse();
    streams.push(stream);
    stream.resume(afterSequence);
    return stream;
  }

  it('is cut off with RESOURCE_EXHAUSTED while server memory stays bounded, then gets everything in order on resume', async () => {
    server = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db'), extraArgs: ['--queue-limit', String(QUEUE_LIMIT), ...NO_ABUSE_LIMIT_FLAGS] });
    const pid = server.child.pid!;
    const alice = await user('alice');
    const bob = await user('bob');
    const slow = open(bob);
    await slow.until('bob ready', (s) => s.frames.length > 0);
    const a = open(alice);
    await a.until('alice ready', (s) => s.frames.length > 0);
    // Counted here: WireStream's getters walk every frame, too slow for a flood.
    let receipts = 0;
    let refusals = 0;
    let bobGot = 0;
    a.call.on('data', (frame: ServerFrame) => {
      receipts += frame.receipts.length;
      refusals += frame.errors.length;
    });
    slow.call.on('data', (frame: ServerFrame) => (bobGot += frame.messages.length));

    const body = (i: number) => `${i} `.padEnd(BODY_BYTES, 'x');
    const send = async (from: number, to: number) => {
      for (let sent = from; sent < to; ) {
        const upTo = Math.min(to, sent + SEND_WINDOW);
        for (; sent < upTo; sent++) a.send('bob', body(sent), `m${sent}`);
        const want = Math.max(from, sent - SEND_WINDOW / 2);
        await eventually(`${want} receipts`, () => receipts >= want || refusals > 0, scaledTimeout(10_000));
        expect(a.errors).to.deep.equal([]);
      }
      await eventually(`${to} receipts`, () => receipts === to, scaledTimeout(10_000));
    };

    // First a normal exchange, so that memory every server uses anyway
    // (SQLite's page cache, a warmed-up heap) is in place before measuring.
    await send(0, WARMUP);
    await eventually('bob read the warm-up', () => bobGot === WARMUP, scaledTimeout(10_000));

    slow.call.pause();
    const rssBefore = memory(pid).rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, memory(pid).rss)), 20);
    try {
      await send(WARMUP, MESSAGES);
    } finally {
      clearInterval(sampler);
    }
    const rssGrowth = peakRss - rssBefore;
    const floodBytes = (MESSAGES - WARMUP) * BODY_BYTES;
    if (FAULT_SCALE > 1) process.stderr.write(`      slow consumer: ${MESSAGES} messages, ${(floodBytes / MIB).toFixed(0)} MiB sent, server RSS grew ${(rssGrowth / MIB).toFixed(1)} MiB\n`);
    expect(rssGrowth, `server RSS grew by ${(rssGrowth / MIB).toFixed(1)} MiB while ${(floodBytes / MIB).toFixed(0)} MiB were sent`).to.be.below(
      Math.min(RSS_GROWTH_BOUND, floodBytes / 2),
    );
    expect(server.log()).to.match(/stream-overflow user=bob/);

    // Reading again, bob gets what was already on its way, then the status.
    slow.call.resume();
    const cutOff = await slow.ended(scaledTimeout(10_000));
    expect(cutOff.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(cutOff.details).to.match(/reconnect and resume; nothing is lost/);
    const early = slow.messages.map((m) => m.sequence);
    expect(early, 'what arrived before the cut is in order').to.deep.equal(oneTo(early.length));
    expect(early.length, 'the backlog was not delivered to the paused stream').to.be.below(MESSAGES);
    expect(early.length).to.be.at.least(WARMUP);

    const resumed = open(bob, early.length);
    let resumedCount = 0;
    resumed.call.on('data', (frame: ServerFrame) => (resumedCount += frame.messages.length));
    await eventually('the rest', () => early.length + resumedCount >= MESSAGES || resumed.status !== undefined, scaledTimeout(20_000));
    const all = [...slow.messages, ...resumed.messages];
    expect(all.map((m) => m.sequence), 'every message once, in order').to.deep.equal(oneTo(MESSAGES));
    expect(all.every((m, i) => m.body === body(i))).to.equal(true);
    await eventually('bob is still connected', () => resumed.status === undefined);
  });
});
