import { expect } from 'chai';
import { isChatError } from '../../src/chat/errors';
import { AppendBatcher } from '../../src/store/append-batcher';
import { SqliteStore } from '../../src/store/sqlite-store';
import type { AppendResult, NewMessage, UserRecord } from '../../src/store/store';

/**
 * The real SQLite store, recording the size of every batch it is given and
 * able to hold batches at a gate so a test can see what happens meanwhile.
 */
class ObservedStore extends SqliteStore {
  readonly batchSizes: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  holdBatches(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  releaseBatches(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  override async appendMessages(batch: NewMessage[]): Promise<AppendResult[]> {
    this.batchSizes.push(batch.length);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
      return await super.appendMessages(batch);
    } finally {
      this.inFlight--;
    }
  }
}

function settled<T>(promise: Promise<T>): { done: () => boolean } {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { done: () => done };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('AppendBatcher', function () {
  let store: ObservedStore;
  let ann: UserRecord;
  let bob: UserRecord;
  let counter = 0;

  beforeEach(async function () {
    store = new ObservedStore(':memory:');
    ann = (await store.registerUser('ann', 1)).user;
    bob = (await store.registerUser('bob', 1)).user;
  });

  afterEach(async function () {
    store.releaseBatches();
    await store.close();
  });

  function note(body = 'hi', receiverId = bob.id): NewMessage {
    return { senderId: ann.id, receiverId, clientId: `c${++counter}`, body, time: counter };
  }

  it('sends appends made in one turn to the store as one batch and gives each caller its own result', async function () {
    const batcher = new AppendBatcher(store);
    const results = await Promise.all(['1', '2', '3', '4', '5'].map((body) => batcher.append(note(body))));
    expect(store.batchSizes).to.deep.equal([5]);
    expect(results.map((r) => [r.message.body, r.message.sequence])).to.deep.equal([
      ['1', 1],
      ['2', 2],
      ['3', 3],
      ['4', 4],
      ['5', 5],
    ]);
  });

  it('resolves a lone append within the same turn of the event loop', async function () {
    const batcher = new AppendBatcher(store);
    const started = process.hrtime.bigint();
    const pending = settled(batcher.append(note('alone')));
    await nextTurn();
    await nextTurn();
    expect(pending.done()).to.equal(true);
    expect(Number(process.hrtime.bigint() - started) / 1e6).to.be.lessThan(50);
    expect(store.batchSizes).to.deep.equal([1]);
  });

  it('never gives the store more than the maximum batch size at once', async function () {
    const batcher = new AppendBatcher(store, { maxBatch: 4 });
    const results = await Promise.all(Array.from({ length: 10 }, () => batcher.append(note())));
    expect(store.batchSizes).to.deep.equal([4, 4, 2]);
    expect(results.map((r) => r.message.sequence)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('writes batches one after another, collecting new appends while one is written', async function () {
    const batcher = new AppendBatcher(store);
    store.holdBatches();
    const first = batcher.append(note('first'));
    await nextTurn();
    expect(store.batchSizes).to.deep.equal([1]);
    const later = [batcher.append(note('a')), batcher.append(note('b'))];
    await nextTurn();
    const more = batcher.append(note('c'));
    await nextTurn();
    expect(store.batchSizes).to.deep.equal([1], 'nothing more may start while the first batch is held');

    store.releaseBatches();
    const results = await Promise.all([first, ...later, more]);
    expect(store.batchSizes).to.deep.equal([1, 3]);
    expect(store.maxInFlight).to.equal(1);
    expect(results.map((r) => r.message.body)).to.deep.equal(['first', 'a', 'b', 'c']);
    expect(results.map((r) => r.message.sequence)).to.deep.equal([1, 2, 3, 4]);
  });

  it('rejects every caller of a batch the store cannot write, and stores none of it', async function () {
    const batcher = new AppendBatcher(store);
    await batcher.append(note('fits'));
    store.setMaxPageCount(1);
    const big = 'x'.repeat(32 * 1024);
    const outcomes = await Promise.allSettled([batcher.append(note(big)), batcher.append(note(big)), batcher.append(note('small'))]);
    expect(store.batchSizes).to.deep.equal([1, 3]);
    for (const outcome of outcomes) {
      expect(outcome.status).to.equal('rejected');
      if (outcome.status === 'rejected') expect(isChatError(outcome.reason, 'unavailable')).to.equal(true, String(outcome.reason));
    }
    expect(await store.inboxAfter(bob.id, 0, 10)).to.have.length(1);
  });

  it('fails only the caller whose message the store refuses, storing the others', async function () {
    const batcher = new AppendBatcher(store);
    const outcomes = await Promise.allSettled([
      batcher.append(note('ok 1')),
      batcher.append(note('to nobody', bob.id + 1000)),
      batcher.append(note('ok 2')),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    const refused = outcomes[1];
    if (refused.status === 'rejected') expect(isChatError(refused.reason, 'not-found')).to.equal(true, String(refused.reason));
    expect((await store.inboxAfter(bob.id, 0, 10)).map((m) => [m.body, m.sequence])).to.deep.equal([
      ['ok 1', 1],
      ['ok 2', 2],
    ]);
  });

  it('lets flush wait until everything appended before it is written', async function () {
    const batcher = new AppendBatcher(store);
    store.holdBatches();
    const appends = [batcher.append(note('1')), batcher.append(note('2'))];
    await nextTurn();
    const flush = batcher.flush();
    const flushed = settled(flush);
    await nextTurn();
    expect(flushed.done()).to.equal(false);

    store.releaseBatches();
    await flush;
    expect((await store.inboxAfter(bob.id, 0, 10)).map((m) => m.body)).to.deep.equal(['1', '2']);
    await Promise.all(appends);
  });

  it('resolves flush at once when nothing is waiting', async function () {
    const batcher = new AppendBatcher(store);
    await batcher.flush();
    await batcher.append(note());
    await batcher.flush();
    expect(store.batchSizes).to.deep.equal([1]);
  });
});
