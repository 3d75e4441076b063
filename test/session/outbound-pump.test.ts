import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect } from 'chai';
import { ChatError } from '../../src/chat/errors';
import { noMetrics } from '../../src/ops/metrics';
import { OutboundQueue, type QueueReader } from '../../src/queue/outbound-queue';
import { MAX_DELIVERIES_PER_FRAME, OutboundPump } from '../../src/session/outbound-pump';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store';
import { eventually } from '../support/eventually';
import { makeTempDir, removeTempDirs } from '../support/temp-dir';
import type { FrameSink, OutboundBatch } from '../../src/session/frames';
import type { AppendResult, StoredMessage } from '../../src/store/store';

/**
 * A socket buffer whose fullness the test controls: every frame is taken,
 * but while `full` is set, write() says "wait for drain", as a grpc-js call
 * does when its buffer is over the high-water mark.
 */
class FakeFrameSink implements FrameSink {
  readonly frames: OutboundBatch[] = [];
  full = false;
  ended: ChatError | 'ok' | undefined;
  private drainListeners: (() => void)[] = [];

  write(batch: OutboundBatch): boolean {
    this.frames.push(batch);
    return !this.full;
  }

  once(_event: 'drain', listener: () => void): this {
    this.drainListeners.push(listener);
    return this;
  }

  /** The buffer emptied: 'drain' fires. */
  drain(): void {
    this.full = false;
    for (const listener of this.drainListeners.splice(0)) listener();
  }

  get drainWaiters(): number {
    return this.drainListeners.length;
  }

  pauseInput(): void {}
  resumeInput(): void {}
  end(error?: ChatError): void {
    this.ended = error ?? 'ok';
  }

  sequences(): number[] {
    return this.frames.flatMap((frame) => frame.messages.map((message) => message.sequence));
  }
}

/** The stream as the queue sees it: wakes go to the pump, a cut-off is remembered and stops it. */
class Stream implements QueueReader {
  pump!: OutboundPump;
  cutOffAt: number | undefined;
  wake(): void {
    this.pump.wake();
  }
  overflow(limit: number): void {
    this.cutOffAt = limit;
    this.pump.stop();
  }
}

function message(sequence: number): StoredMessage {
  return { id: sequence, senderId: 1, receiverId: 2, sender: 'ann', receiver: 'bob', clientId: `c${sequence}`, body: `m${sequence}`, time: Date.now(), sequence, kind: 'text' };
}

/** Lets the pump run its deferred turns. */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
}

describe('OutboundPump', () => {
  const stores: SqliteStore[] = [];

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    removeTempDirs();
  });

  /** A live pump for bob (user 2) over a real, empty SQLite inbox. */
  async function livePump(options: { limit?: number } = {}) {
    const store = openSqliteStore(join(makeTempDir(), 'chat.db'));
    stores.push(store);
    const queue = new OutboundQueue(2, options.limit ?? 10_000);
    const sink = new FakeFrameSink();
    const stream = new Stream();
    let idleCalls = 0;
    const failures: string[] = [];
    const pump = new OutboundPump({
      queue,
      reader: stream,
      sink,
      metrics: noMetrics,
      readInbox: (after, limit) => store.inboxAfter(2, after, limit),
      onIdle: () => idleCalls++,
      onFailed: (event) => failures.push(event),
    });
    stream.pump = pump;
    queue.attach(stream);
    await pump.start(0);
    return { store, queue, sink, stream, pump, idleCalls: () => idleCalls, failures };
  }

  it('packs everything waiting for this stream into one frame: its answers and the queue', async () => {
    const { queue, sink, pump } = await livePump();
    await turns();
    const receipt: AppendResult = { message: message(9), duplicate: false };
    for (let s = 1; s <= 5; s++) queue.push({ kind: 'message', message: message(s) });
    pump.answer({ kind: 'receipt', result: receipt, arrived: 0 });
    pump.answer({ kind: 'error', error: new ChatError('invalid-argument', 'yours'), clientId: 'y' });
    await turns();
    expect(sink.frames).to.have.length(1);
    expect(sink.sequences()).to.deep.equal([1, 2, 3, 4, 5]);
    expect(sink.frames[0].receipts).to.deep.equal([receipt]);
    expect(sink.frames[0].errors.map((e) => e.clientId)).to.deep.equal(['y']);
  });

  it("keeps answers out of the shared queue, so a sibling stream's place in it is not used up by them", async () => {
    const { queue, sink, pump } = await livePump({ limit: 8 });
    await turns();
    const sibling = { woken: 0, cutOff: false, wake() { this.woken++; }, overflow() { this.cutOff = true; } };
    queue.attach(sibling);
    for (let i = 1; i <= 100; i++) pump.answer({ kind: 'error', error: new ChatError('invalid-argument', 'refused'), clientId: `c${i}` });
    expect(pump.pendingAnswers).to.equal(100);
    await turns();
    expect(sink.frames.flatMap((f) => f.errors.map((e) => e.clientId))).to.deep.equal(Array.from({ length: 100 }, (_, i) => `c${i + 1}`));
    expect(pump.pendingAnswers).to.equal(0);
    expect(queue.length).to.equal(0);
    expect(sibling).to.include({ woken: 0, cutOff: false });
  });

  it('holds answers while the sink is full and while catching up, and drops them once stopped', async () => {
    const { sink, pump } = await livePump();
    sink.full = true;
    pump.answer({ kind: 'receipt', result: { message: message(1), duplicate: false }, arrived: 0 });
    await turns();
    pump.answer({ kind: 'receipt', result: { message: message(2), duplicate: false }, arrived: 0 });
    await turns();
    expect(sink.frames.flatMap((f) => f.receipts.map((r) => r.message.sequence))).to.deep.equal([1]);
    expect(pump.idle).to.equal(false);
    sink.drain();
    await turns();
    expect(sink.frames.flatMap((f) => f.receipts.map((r) => r.message.sequence))).to.deep.equal([1, 2]);
    expect(pump.idle).to.equal(true);
    pump.stop();
    pump.answer({ kind: 'receipt', result: { message: message(3), duplicate: false }, arrived: 0 });
    await turns();
    expect(sink.frames).to.have.length(2);
    expect(pump.pendingAnswers).to.equal(0);
  });

  it('writes presence handed to the stream with its next frame, outside the shared queue', async () => {
    const { queue, sink, pump } = await livePump();
    pump.presence([{ user: 'carol', online: true, time: 1 }]);
    queue.push({ kind: 'message', message: message(1) });
    await turns();
    expect(sink.frames).to.have.length(1);
    expect(sink.frames[0].presence).to.deep.equal([{ user: 'carol', online: true, time: 1 }]);
    expect(sink.sequences()).to.deep.equal([1]);
    expect(queue.length, 'presence never entered the queue').to.equal(0);
  });

  it('keeps only the latest waiting change per person, and drops those of people no longer watched', async () => {
    const { sink, pump } = await livePump();
    sink.full = true;
    pump.presence([{ user: 'zed', online: true, time: 0 }]);
    await turns();
    expect(sink.frames, 'the frame that filled the buffer is written').to.have.length(1);
    pump.presence([{ user: 'carol', online: true, time: 1 }]);
    pump.presence([{ user: 'dave', online: true, time: 2 }]);
    pump.presence([{ user: 'carol', online: false, time: 3 }]);
    pump.presence([{ user: 'erin', online: true, time: 4 }]);
    pump.keepPresence((user) => user !== 'erin');
    await turns();
    expect(sink.frames, 'nothing is written while the sink is full').to.have.length(1);
    sink.drain();
    await turns();
    expect(sink.frames).to.have.length(2);
    expect(sink.frames[1].presence).to.deep.equal([
      { user: 'dave', online: true, time: 2 },
      { user: 'carol', online: false, time: 3 },
    ]);
  });

  it('writes nothing while the sink is full, then everything that waited in one frame on drain', async () => {
    const { queue, sink } = await livePump();
    sink.full = true;
    queue.push({ kind: 'message', message: message(1) });
    await turns();
    expect(sink.frames).to.have.length(1, 'the frame that filled the buffer is written');
    queue.push({ kind: 'message', message: message(2) });
    queue.push({ kind: 'message', message: message(3) });
    await turns();
    expect(sink.frames).to.have.length(1, 'nothing is written while the sink is full');
    sink.drain();
    await turns();
    expect(sink.frames).to.have.length(2);
    expect(sink.frames[1].messages.map((m) => m.sequence)).to.deep.equal([2, 3]);
  });

  it('never reorders or repeats, across full buffers, drains and duplicate deliveries', async () => {
    const { queue, sink } = await livePump();
    const total = 3 * MAX_DELIVERIES_PER_FRAME + 17;
    let next = 1;
    for (let round = 0; next <= total; round++) {
      for (let i = 0; i < 97 && next <= total; i++, next++) {
        queue.push({ kind: 'message', message: message(next) });
        if (next % 50 === 0) queue.push({ kind: 'message', message: message(next - 3) }); // a repeat, already written or about to be
      }
      sink.full = round % 2 === 0;
      await turns();
      if (round % 3 === 0) sink.drain();
    }
    sink.drain();
    await eventually('every message written', () => sink.sequences().length >= total);
    await turns();
    expect(sink.sequences()).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
    expect(Math.max(...sink.frames.map((f) => f.messages.length))).to.be.at.most(MAX_DELIVERIES_PER_FRAME);
  });

  it('fills a gap in the queue from the store, in order, and carries on live', async () => {
    const { store, queue, sink } = await livePump();
    const ann = (await store.registerUser('ann', Date.now())).user.id;
    const bob = (await store.registerUser('bob', Date.now())).user.id;
    expect(bob).to.equal(2);
    const stored = await store.appendMessages([1, 2, 3].map((i) => ({ senderId: ann, receiverId: bob, clientId: `s${i}`, body: `b${i}`, time: Date.now() })));
    queue.push({ kind: 'message', message: stored[2].message }); // 1 and 2 never reached the queue
    await eventually('the gap filled', () => sink.sequences().length >= 3);
    queue.push({ kind: 'message', message: stored[2].message });
    queue.push({ kind: 'message', message: message(4) });
    await eventually('live again', () => sink.sequences().length >= 4);
    await turns();
    expect(sink.sequences()).to.deep.equal([1, 2, 3, 4]);
  });

  it('says when it is idle, and after stop writes nothing, even when a drain comes', async () => {
    const { queue, sink, pump, idleCalls } = await livePump();
    await turns();
    expect(pump.idle).to.equal(true);
    const before = idleCalls();
    sink.full = true;
    queue.push({ kind: 'message', message: message(1) });
    await turns();
    expect(pump.idle, 'waiting for drain is not idle').to.equal(false);
    queue.push({ kind: 'message', message: message(2) });
    sink.drain();
    await turns();
    expect(pump.idle).to.equal(true);
    expect(idleCalls()).to.be.greaterThan(before);
    expect(pump.delivered).to.equal(2);

    sink.full = true;
    queue.push({ kind: 'message', message: message(3) });
    await turns();
    pump.stop();
    queue.push({ kind: 'message', message: message(4) });
    sink.drain();
    await turns();
    expect(sink.sequences()).to.deep.equal([1, 2, 3]);
  });

  it('is cut off when it falls more than the queue limit behind a full sink, and writes nothing after', async () => {
    const { queue, sink, stream } = await livePump({ limit: 4 });
    sink.full = true;
    queue.push({ kind: 'message', message: message(1) });
    await turns();
    queue.push({ kind: 'message', message: message(2) });
    queue.push({ kind: 'message', message: message(3) });
    await turns(); // a pump that ignored the full sink would write 2 and 3 here and never fall behind
    expect(stream.cutOffAt).to.equal(undefined);
    for (let s = 4; s <= 6; s++) queue.push({ kind: 'message', message: message(s) });
    expect(stream.cutOffAt).to.equal(4);
    sink.drain();
    await turns();
    expect(sink.sequences()).to.deep.equal([1]);
    expect(queue.readerCount).to.equal(0, 'the cut-off reader is detached');
  });

  it('reports a store failure during catch-up and stops', async () => {
    const { store, failures, sink, queue } = await livePump();
    await store.close();
    stores.splice(0);
    queue.push({ kind: 'behind', sequence: 5 });
    await eventually('the failure reported', () => failures.length > 0);
    expect(failures).to.deep.equal(['catch-up-failed']);
    queue.push({ kind: 'message', message: message(1) });
    await turns();
    expect(sink.frames).to.deep.equal([]);
  });
});
