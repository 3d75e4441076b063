import { expect } from 'chai';
import { ChatError } from '../../src/chat/errors';
import type { UserLookup } from '../../src/chat/watch-list';
import { OnlineRegistry, type Subscriber } from '../../src/queue/online-registry';
import type { PresenceChange } from '../../src/queue/presence-watchers';
import { PresenceWatch, type WatchingStream } from '../../src/session/presence-watch';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store';
import type { UserRecord } from '../../src/store/store';

/** A stream as the registry and the watch see it, keeping what it is told. */
class Stream implements Subscriber, WatchingStream {
  readonly subscriber = this;
  readonly tokenHash: string;
  readonly sent: PresenceChange[] = [];
  readonly refused: ChatError[] = [];
  readonly failures: unknown[] = [];
  settledCount = 0;
  closed = false;
  constructor(
    readonly userId: number,
    readonly userName: string,
  ) {
    this.tokenHash = `token-of-${userName}`;
  }
  wake(): void {}
  overflow(): void {}
  close(): void {
    this.closed = true;
  }
  presence(): void {}
  sendPresence(changes: PresenceChange[]): void {
    this.sent.push(...changes);
  }
  keepPresence(): void {}
  refuse(error: ChatError): void {
    this.refused.push(error);
  }
  failed(err: unknown): void {
    this.failures.push(err);
  }
  settled(): void {
    this.settledCount++;
  }
  isClosed(): boolean {
    return this.closed;
  }
}

/** The real store's lookup, held back until the test lets each call through. */
class HeldLookup implements UserLookup {
  private readonly held: Array<() => void> = [];
  constructor(private readonly store: SqliteStore) {}
  async findUsersByName(names: readonly string[]): Promise<UserRecord[]> {
    await new Promise<void>((resolve) => this.held.push(resolve));
    return this.store.findUsersByName(names);
  }
  get waiting(): number {
    return this.held.length;
  }
  /** Lets the call made `index`-th (0 is the oldest still held) go on. */
  release(index: number): void {
    this.held.splice(index, 1)[0]();
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('PresenceWatch', () => {
  let store: SqliteStore;
  let registry: OnlineRegistry;
  let stream: Stream;
  let bob: UserRecord;

  beforeEach(async () => {
    store = openSqliteStore(':memory:');
    await store.registerUser('ann', 1);
    bob = (await store.registerUser('Bob', 2)).user;
    await store.registerUser('carol', 3);
    registry = new OnlineRegistry();
    stream = new Stream(1, 'ann');
    registry.attach(stream);
  });

  afterEach(async () => {
    registry.closeAll(new ChatError('unavailable', 'test over'));
    await store.close();
  });

  const watched = () => {
    const set = registry.watchSetOf(stream);
    return set.everyone ? 'everyone' : [...set.keys].sort();
  };

  it('applies the newest request even when an older one finishes its lookup last', async () => {
    const lookup = new HeldLookup(store);
    const watch = new PresenceWatch(registry, lookup, stream);
    const older = watch.set({ everyone: false, users: ['bob'] });
    const newer = watch.set({ everyone: false, users: ['carol'] });
    await settle();
    expect(lookup.waiting).to.equal(2);
    lookup.release(1);
    await newer;
    expect(watched()).to.deep.equal(['carol']);
    lookup.release(0);
    await older;
    expect(watched()).to.deep.equal(['carol'], 'the late, older request changes nothing');
    expect(stream.sent.map((c) => c.user)).to.deep.equal(['carol'], 'nobody from the stale request is announced');
  });

  it('keeps the old set while names are looked up, and is busy until the lookup settles', async () => {
    const lookup = new HeldLookup(store);
    const watch = new PresenceWatch(registry, lookup, stream);
    registry.watchPresence(stream, { everyone: false, keys: new Set(['carol']) });
    const pending = watch.set({ everyone: false, users: ['bob', 'carol'] });
    await settle();
    expect(watch.busy).to.equal(true);
    expect(watched()).to.deep.equal(['carol']);
    lookup.release(0);
    await pending;
    expect(watch.busy).to.equal(false);
    expect(watched()).to.deep.equal(['bob', 'carol']);
    await settle();
    expect(stream.settledCount).to.equal(1);
  });

  it('sends the current state of each person entering the set, and of nobody already in it', async () => {
    const watch = new PresenceWatch(registry, store, stream);
    registry.watchPresence(stream, { everyone: false, keys: new Set(['carol']) });
    registry.attach(new Stream(bob.id, 'Bob'));
    // Let the batch announcing Bob's arrival go, so his state is not pending.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await watch.set({ everyone: false, users: ['BOB', 'carol'] });
    expect(stream.sent.map((c) => [c.user, c.online])).to.deep.equal([['Bob', true]]);
  });

  it('refuses a list that is too long as a whole and keeps watching what it watched', async () => {
    const watch = new PresenceWatch(registry, store, stream);
    await watch.set({ everyone: false, users: ['bob'] });
    const tooMany = Array.from({ length: 1001 }, (_, i) => `user${i}`);
    await watch.set({ everyone: false, users: tooMany });
    expect(stream.refused.map((e) => e.code)).to.deep.equal(['invalid-argument']);
    expect(stream.refused[0].message).to.match(/at most 1000/);
    expect(watched()).to.deep.equal(['bob']);
  });

  it('ends nothing itself when the lookup fails: the stream is told, and the set stays', async () => {
    const failing: UserLookup = { findUsersByName: () => Promise.reject(new Error('disk gone')) };
    const watch = new PresenceWatch(registry, failing, stream);
    registry.watchPresence(stream, { everyone: false, keys: new Set(['carol']) });
    await watch.set({ everyone: false, users: ['bob'] });
    expect(stream.failures.map(String)).to.deep.equal(['Error: disk gone']);
    expect(watched()).to.deep.equal(['carol']);
    expect(watch.busy).to.equal(false);
  });

  it('watches nobody after an empty list, and everyone on request, without a lookup', async () => {
    const lookup = new HeldLookup(store);
    const watch = new PresenceWatch(registry, lookup, stream);
    await watch.set({ everyone: false, users: [] });
    expect(watched()).to.deep.equal([]);
    await watch.set({ everyone: true, users: [] });
    expect(watched()).to.equal('everyone');
    expect(lookup.waiting).to.equal(0);
  });
});
