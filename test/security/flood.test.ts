import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { DEFAULT_LIMITS } from '../../src/rpc/server';
import { eventually, sleep } from '../support/eventually';
import { WireClient, type WireStream } from '../support/grpc-client';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import type { FloodOrder, FloodReport } from './flooder';

/** How long the flood lasts, and the pair's quiet warm-up before it. */
const FLOOD_MS = 4_000;
const WARM_UP_MS = 1_000;
/** Each of the two chatting users writes this often: a few messages a second, like people. */
const CHAT_INTERVAL_MS = 100;
const FLOOD_BODY_BYTES = 1_024;
/**
 * Of the messages the pair writes during the flood, at least this share
 * must arrive while it lasts: the flood must not starve them. (Their
 * latency is reported, not asserted: speed is the benchmark's to measure.)
 */
const MIN_SHARE_DELIVERED_UNDER_FLOOD = 0.5;
/** How much the server's heap may grow while refusing the flood. */
const MAX_HEAP_GROWTH_MB = 32;

/** Runs the flooder in a worker thread and resolves with what it saw. */
function runFlooder(order: FloodOrder): Promise<FloodReport> {
  const worker = new Worker(join(__dirname, 'flooder.js'), { workerData: order });
  return new Promise((resolve, reject) => {
    worker.once('message', (report: FloodReport) => {
      resolve(report);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the flooder exited (${code}) without a report`)));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Latency summary in ms: "p50 1.2, p99 3.4, max 5.6 (n=80)". */
function summary(latencies: number[]): { p50: number; p99: number; max: number; text: string } {
  const sorted = [...latencies].sort((a, b) => a - b);
  const [p50, p99, max] = [percentile(sorted, 50), percentile(sorted, 99), sorted[sorted.length - 1]];
  return { p50, p99, max, text: `p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms (n=${sorted.length})` };
}

/**
 * Two users writing to each other at a human pace, timing each message from
 * the moment it is written to the moment it arrives on the other's stream.
 */
class TimedPair {
  private readonly sentAt = new Map<string, number>();
  private phase = 'warm-up';
  readonly byPhase = new Map<string, number[]>();
  private timer: NodeJS.Timeout | undefined;
  private count = 0;

  private constructor(
    readonly names: [string, string],
    readonly clients: WireClient[],
    readonly streams: WireStream[],
  ) {
    streams.forEach((stream) =>
      stream.call.on('data', (frame: { messages: { body: string }[] }) => {
        const now = performance.now();
        for (const message of frame.messages) {
          const sentAt = this.sentAt.get(message.body);
          if (sentAt === undefined) continue;
          this.sentAt.delete(message.body);
          this.byPhase.get(this.phase)!.push(now - sentAt);
        }
      }),
    );
  }

  static async start(target: string, names: [string, string]): Promise<TimedPair> {
    const clients: WireClient[] = [];
    const streams: WireStream[] = [];
    for (const name of names) {
      const client = new WireClient(target);
      await client.login(name);
      const stream = client.converse();
      stream.resume(0);
      await stream.until('the ready frame', (s) => s.frames.some((f) => f.ready !== undefined));
      clients.push(client);
      streams.push(stream);
    }
    return new TimedPair(names, clients, streams);
  }

  chat(): void {
    this.byPhase.set(this.phase, []);
    this.timer = setInterval(() => this.writeOne(), CHAT_INTERVAL_MS / 2);
  }

  /** Later latencies count toward `phase`. */
  enter(phase: string): void {
    this.phase = phase;
    this.byPhase.set(phase, []);
  }

  /** Stops writing and waits until every message written has arrived. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + 5_000;
    while (this.sentAt.size > 0 && Date.now() < deadline) await sleep(10);
    expect([...this.sentAt.keys()], 'messages of the chatting pair that never arrived').to.deep.equal([]);
    for (const stream of this.streams) {
      expect(stream.errors, 'frame errors on a chatting stream').to.deep.equal([]);
      expect(stream.status, 'a chatting stream ended').to.equal(undefined);
    }
    expect(this.streams.flatMap((s) => s.receipts)).to.have.length(this.count);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const stream of this.streams) if (stream.status === undefined) stream.cancel();
    await Promise.all(this.streams.map((stream) => stream.ended()));
    for (const client of this.clients) client.close();
  }

  private writeOne(): void {
    const from = this.count % 2;
    const body = `${this.names[from]} #${++this.count}: how is it going?`;
    this.sentAt.set(body, performance.now());
    this.streams[from].send(this.names[1 - from], body, `chat-${this.count}`);
  }
}

describe('a user who floods the server, under the default limits', function () {
  let server: TestServer;
  const clients: WireClient[] = [];
  const streams: WireStream[] = [];
  let pair: TimedPair | undefined;

  before(async function () {
    server = await startTestServer();
  });

  afterEach(async function () {
    await pair?.close();
    pair = undefined;
    for (const stream of streams.splice(0)) if (stream.status === undefined) stream.cancel();
    for (const client of clients.splice(0)) client.close();
  });

  after(async function () {
    await server?.stop();
    removeTempDirs();
  });

  async function user(name: string): Promise<WireClient> {
    const client = new WireClient(server.target);
    clients.push(client);
    await client.login(name);
    return client;
  }

  it('refuses the flood frame by frame with a retry hint, while two others keep chatting through it and memory stays bounded', async function () {
    this.timeout(WARM_UP_MS + FLOOD_MS + 30_000);
    const flooder = await user('flooder');
    pair = await TimedPair.start(server.target, ['carol', 'dave']);
    pair.chat();
    await sleep(WARM_UP_MS);

    const heap: number[] = [];
    const sample = setInterval(() => heap.push(process.memoryUsage().heapUsed), 50);
    const baselineHeap = process.memoryUsage().heapUsed;
    pair.enter('flood');
    // The flood is aimed at one of the chatting users.
    const report = await runFlooder({ target: server.target, token: flooder.token!, receiver: 'carol', durationMs: FLOOD_MS, bodyBytes: FLOOD_BODY_BYTES });
    pair.enter('after');
    clearInterval(sample);
    await pair.stop();

    const warmUp = summary(pair.byPhase.get('warm-up')!);
    const underFlood = summary(pair.byPhase.get('flood')!);
    const peakGrowthMb = (Math.max(...heap) - baselineHeap) / 2 ** 20;
    const refused = report.errorsByCode[status.RESOURCE_EXHAUSTED] ?? 0;
    const rate = DEFAULT_LIMITS.sendRate;
    const note =
      `flooder sent ${report.sent} frames in ${report.elapsedMs} ms: ${report.receipts} stored, ${refused} refused ` +
      `(${report.withRetryHint} with a retry hint), stream ended ${status[report.status.code]}; ` +
      `pair latency before the flood ${warmUp.text}, during it ${underFlood.text}; ` +
      `heap grew at most ${peakGrowthMb.toFixed(1)} MiB`;
    this.test!.title += ` — ${note}`;

    expect(report.sent, note).to.be.greaterThan(2_000);
    expect(status[report.status.code], `${note}: ${report.status.details}`).to.equal('OK');
    // Every send was answered: stored within the limit (the burst, then the rate), refused beyond it.
    expect(report.receipts + refused, note).to.equal(report.sent);
    expect(report.receipts, note).to.be.at.least(rate.burst);
    expect(report.receipts, note).to.be.at.most(rate.burst + Math.ceil((rate.perSecond * report.elapsedMs) / 1000) + rate.perSecond);
    expect(Object.keys(report.errorsByCode), note).to.deep.equal([String(status.RESOURCE_EXHAUSTED)]);
    expect(report.withRetryHint, `${note}; e.g. "${report.sampleRefusal}"`).to.equal(refused);

    const writtenUnderFlood = 2 * Math.floor(FLOOD_MS / CHAT_INTERVAL_MS);
    expect(pair.byPhase.get('flood')!.length, note).to.be.at.least(MIN_SHARE_DELIVERED_UNDER_FLOOD * writtenUnderFlood);
    expect(peakGrowthMb, note).to.be.below(MAX_HEAP_GROWTH_MB);
  });

  it('refuses the streams a user opens beyond the per-user limit with RESOURCE_EXHAUSTED and keeps the others open', async function () {
    const max = DEFAULT_LIMITS.maxStreamsPerUser;
    const hoarder = await user('hoarder');
    const friend = await user('friend');
    const opened = Array.from({ length: max + 4 }, () => {
      const stream = hoarder.converse();
      streams.push(stream);
      stream.resume(0);
      return stream;
    });
    await Promise.all(
      opened.map((stream) => stream.until('a greeting or the end', (s) => s.frames.some((f) => f.ready) || s.status !== undefined)),
    );
    const admitted = opened.filter((s) => s.status === undefined);
    const refused = opened.filter((s) => s.status !== undefined);
    expect(admitted, 'streams admitted').to.have.length(max);
    expect(refused.map((s) => status[s.status!.code]), 'streams refused').to.deep.equal(Array(4).fill('RESOURCE_EXHAUSTED'));
    for (const stream of refused) {
      expect(stream.status!.details).to.contain(`${max} streams`);
      expect(stream.frames, 'a refused stream received').to.deep.equal([]);
    }

    // The admitted streams all work: each gets a message sent to the hoarder.
    const friendStream = friend.converse();
    streams.push(friendStream);
    friendStream.resume(0);
    friendStream.send('hoarder', 'are you there?', 'ping');
    await Promise.all(admitted.map((s) => s.until('the message', (x) => x.messages.some((m) => m.body === 'are you there?'))));

    // Closing one makes room for another, once the server has seen it go.
    const open = server.server.streamCount();
    admitted[0].cancel();
    await eventually('the server to close the cancelled stream', () => server.server.streamCount() === open - 1);
    const another = hoarder.converse();
    streams.push(another);
    another.resume(0);
    await another.until('a greeting', (s) => s.frames.some((f) => f.ready) || s.status !== undefined);
    expect(another.status, 'the stream opened after one closed').to.equal(undefined);
  });
});
