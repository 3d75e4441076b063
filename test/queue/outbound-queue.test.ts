import { expect } from 'chai';
import { OutboundQueue, type Delivery, type QueueReader } from '../../src/queue/outbound-queue';
import { OnlineRegistry, PRESENCE_BATCH_MS, type Subscriber } from '../../src/queue/online-registry';
import type { PresenceChange } from '../../src/queue/presence-watchers';
import { ChatError } from '../../src/chat/errors';
import type { StoredMessage } from '../../src/store/store';

function message(sequence: number): StoredMessage {
  return { id: sequence, senderId: 1, receiverId: 2, sender: 'ann', receiver: 'bob', clientId: `c${sequence}`, body: 'hi', time: 0, sequence, kind: 'text' };
}

class Reader implements QueueReader {
  wakes = 0;
  overflowedAt: number | undefined;
  wake(): void {
    this.wakes++;
  }
  overflow(limit: number): void {
    this.overflowedAt = limit;
  }
}

const sequences = (deliveries: Delivery[]) => deliveries.map((d) => (d.kind === 'message' ? d.message.sequence : -1));

describe('OutboundQueue', () => {
  it('gives each reader everything pushed after it attached, in order, at its own pace', () => {
    const queue = new OutboundQueue(2, 100);
    const fast = new Reader();
    const slow = new Reader();
    queue.attach(fast);
    queue.push({ kind: 'message', message: message(1) });
    queue.attach(slow);
    queue.push({ kind: 'message', message: message(2) });
    queue.push({ kind: 'message', message: message(3) });
    expect(sequences(queue.read(fast, 2))).to.deep.equal([1, 2]);
    expect(sequences(queue.read(fast, 10))).to.deep.equal([3]);
    expect(sequences(queue.read(slow, 10))).to.deep.equal([2, 3]);
    expect(queue.length).to.equal(0, 'a delivery every reader passed is dropped');
    expect(queue.lastSequence).to.equal(3);
    expect(fast.wakes).to.equal(3);
  });

  it('cuts off a reader that falls more than the limit behind, and keeps serving the others', () => {
    const queue = new OutboundQueue(2, 4);
    const stuck = new Reader();
    const reading = new Reader();
    queue.attach(stuck);
    queue.attach(reading);
    for (let i = 1; i <= 5; i++) {
      queue.push({ kind: 'message', message: message(i) });
      queue.read(reading, 10);
    }
    expect(stuck.overflowedAt).to.equal(4);
    expect(reading.overflowedAt).to.equal(undefined);
    expect(queue.read(stuck, 10)).to.deep.equal([], 'a cut-off reader is detached');
    expect(queue.length).to.equal(0, 'what only the cut-off reader needed is freed');
    queue.push({ kind: 'message', message: message(6) });
    expect(sequences(queue.read(reading, 10))).to.deep.equal([6]);
  });
});

/** A stream as the registry sees it, keeping what it reads. */
class Watcher implements Subscriber {
  readonly tokenHash: string;
  queue: OutboundQueue | undefined;
  readonly seen: Delivery[] = [];
  readonly presenceSeen: PresenceChange[][] = [];
  constructor(
    readonly userId: number,
    readonly userName: string,
  ) {
    this.tokenHash = `token-of-${userName}`;
  }
  wake(): void {
    if (this.queue) this.seen.push(...this.queue.read(this, 100));
  }
  overflow(): void {}
  close(): void {}
  presence(changes: PresenceChange[]): void {
    this.presenceSeen.push(changes);
  }
}

describe('OnlineRegistry presence', () => {
  it('sends the changes of one moment to each watcher as one delivery, the latest change per user winning', async () => {
    const registry = new OnlineRegistry();
    const ann = new Watcher(1, 'ann');
    ann.queue = registry.attach(ann);
    const others = [2, 3, 4].map((id) => new Watcher(id, `user${id}`));
    for (const other of others) registry.attach(other);
    registry.detach(others[2]);
    await new Promise((resolve) => setTimeout(resolve, PRESENCE_BATCH_MS * 3));
    expect(ann.presenceSeen).to.have.length(1);
    expect(ann.seen, 'presence does not pass through the shared queue').to.deep.equal([]);
    const changes = ann.presenceSeen[0];
    expect(changes.map((c) => [c.user, c.online])).to.deep.equal([
      ['ann', true],
      ['user2', true],
      ['user3', true],
      ['user4', false],
    ]);
    registry.closeAll(new ChatError('unavailable', 'test over'));
  });

  it('hands each stream only the changes of the people it watches, and none to a stream watching nobody', async () => {
    const registry = new OnlineRegistry();
    const ann = new Watcher(1, 'ann');
    const quiet = new Watcher(5, 'quiet');
    registry.attach(ann);
    registry.attach(quiet);
    registry.watchPresence(ann, { everyone: false, keys: new Set(['bob']) });
    registry.watchPresence(quiet, { everyone: false, keys: new Set() });
    registry.attach(new Watcher(2, 'Bob'));
    registry.attach(new Watcher(3, 'carol'));
    await new Promise((resolve) => setTimeout(resolve, PRESENCE_BATCH_MS * 3));
    expect(ann.presenceSeen.flat().map((c) => [c.user, c.online])).to.deep.equal([['Bob', true]]);
    expect(quiet.presenceSeen).to.deep.equal([]);
    registry.closeAll(new ChatError('unavailable', 'test over'));
  });
});
