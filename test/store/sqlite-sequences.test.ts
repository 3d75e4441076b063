import path from 'node:path';
import { expect } from 'chai';
import { isChatError } from '../../src/chat/errors';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store';
import type { RoomRecord } from '../../src/store/room-store';
import type { NewMessage, UserRecord } from '../../src/store/store';
import { makeTempDir, removeTempDirs } from '../support/temp-dir';

// The inbox numbers SqliteStore keeps in memory (sqlite-sequences.ts) must
// agree with the file whatever happened before: a room write, a failed
// batch, a restart, another connection's commit.
describe('SqliteStore inbox sequences', function () {
  let file: string;
  const stores: SqliteStore[] = [];
  let clientIds = 0;

  function open(): SqliteStore {
    const store = openSqliteStore(file);
    stores.push(store);
    return store;
  }

  beforeEach(function () {
    file = path.join(makeTempDir(), 'chat.db');
  });

  afterEach(async function () {
    for (const store of stores.splice(0)) await store.close();
    removeTempDirs();
  });

  function note(from: UserRecord, to: UserRecord, body = 'hi'): NewMessage {
    return { senderId: from.id, receiverId: to.id, clientId: `c${++clientIds}`, body, time: 1 };
  }

  async function users(store: SqliteStore): Promise<[UserRecord, UserRecord]> {
    return [(await store.registerUser('ann', 1)).user, (await store.registerUser('bob', 1)).user];
  }

  async function room(store: SqliteStore, ...members: UserRecord[]): Promise<RoomRecord> {
    let joined: RoomRecord | undefined;
    for (const member of members) {
      const outcome = await store.joinRoom({
        name: '#dev',
        userId: member.id,
        clientId: `c${++clientIds}`,
        time: 1,
        createPrivate: false,
        limits: { maxMembers: 10, maxRooms: 10 },
      });
      joined = outcome.room;
    }
    return joined!;
  }

  async function post(store: SqliteStore, where: RoomRecord, from: UserRecord, body = 'to the room'): Promise<void> {
    await store.postToRoom({ roomId: where.id, senderId: from.id, clientId: `c${++clientIds}`, body, time: 1, event: 'message' });
  }

  async function inboxSequences(store: SqliteStore, user: UserRecord): Promise<number[]> {
    return (await store.inboxAfter(user.id, 0, 100)).map((m) => m.sequence);
  }

  it('numbers direct messages and room entries to one receiver consecutively, whichever comes first', async function () {
    const store = open();
    const [ann, bob] = await users(store);
    await store.appendMessages([note(ann, bob)]); // bob 1
    const dev = await room(store, ann, bob); // bob: his join is 2
    await store.appendMessages([note(ann, bob), note(ann, bob)]); // bob 3, 4
    await post(store, dev, ann); // bob 5
    const [last] = await store.appendMessages([note(ann, bob)]);

    expect(last.message.sequence).to.equal(6);
    expect(await inboxSequences(store, bob)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect((await store.lastSequences([bob.id])).get(bob.id)).to.equal(6);
  });

  it('gives the numbers of a batch that failed to the next batch, and writes none of them', async function () {
    const store = open();
    const [ann, bob] = await users(store);
    await store.appendMessages([note(ann, bob)]);

    const failure = await store.appendMessages([note(ann, bob), note(ann, bob), { ...note(ann, bob), receiverId: 9999 }]).catch((err: unknown) => err);
    expect(isChatError(failure, 'not-found')).to.equal(true, String(failure));
    expect((await store.findUserById(bob.id))?.lastSequence).to.equal(1);

    const results = await store.appendMessages([note(ann, bob)]);
    expect(results.map((r) => r.message.sequence)).to.deep.equal([2]);
    expect(await inboxSequences(store, bob)).to.deep.equal([1, 2]);
  });

  it('numbers on without a gap after a room post that could not be stored', async function () {
    const store = open();
    const [ann, bob] = await users(store);
    const dev = await room(store, ann, bob); // bob's join is 1
    await store.appendMessages([note(ann, bob)]); // 2
    store.setMaxPageCount(1); // no page left to grow into

    const failure = await post(store, dev, ann, 'x'.repeat(32 * 1024)).catch((err: unknown) => err);
    expect(isChatError(failure, 'unavailable')).to.equal(true, String(failure));
    store.setMaxPageCount(1_000_000);

    const [next] = await store.appendMessages([note(ann, bob)]);
    expect(next.message.sequence).to.equal(3);
    await post(store, dev, ann);
    expect(await inboxSequences(store, bob)).to.deep.equal([1, 2, 3, 4]);
  });

  it('goes on from the stored numbers after the store is opened again', async function () {
    const first = open();
    const [ann, bob] = await users(first);
    await first.appendMessages([note(ann, bob), note(bob, ann), note(ann, bob)]);
    await first.close();

    const second = open();
    const results = await second.appendMessages([note(ann, bob), note(bob, ann)]);
    expect(results.map((r) => [r.message.receiver, r.message.sequence])).to.deep.equal([
      ['bob', 3],
      ['ann', 2],
    ]);
  });

  it('goes on after the numbers of messages that retention deleted, also after the store is opened again', async function () {
    const first = open();
    const [ann, bob] = await users(first);
    await first.appendMessages([note(ann, bob), note(ann, bob), note(ann, bob)]);
    expect(await first.deleteMessagesBefore(2, 100)).to.equal(3);
    expect(await inboxSequences(first, bob)).to.deep.equal([]);
    expect((await first.lastSequences([bob.id])).get(bob.id)).to.equal(3);
    expect((await first.findUserById(bob.id))?.lastSequence).to.equal(3);
    await first.close();

    const second = open();
    const [next] = await second.appendMessages([note(ann, bob)]);
    expect(next.message.sequence).to.equal(4);
    await post(second, await room(second, bob), bob);
    expect(await inboxSequences(second, bob)).to.deep.equal([4, 5, 6]);
  });

  it('is not misled by another connection writing to the same file', async function () {
    const mine = open();
    const [ann, bob] = await users(mine);
    await mine.appendMessages([note(ann, bob)]); // 1, now known in memory
    const other = open();
    await other.appendMessages([note(ann, bob)]); // 2
    const dev = await room(mine, bob); // bob's join: 3
    await other.appendMessages([note(ann, bob)]); // 4
    await post(mine, dev, bob); // 5
    await post(other, dev, bob); // 6

    const [next] = await mine.appendMessages([note(ann, bob)]);
    expect(next.message.sequence).to.equal(7);
    expect(await inboxSequences(mine, bob)).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
  });

  it('numbers a room entry after direct messages that were stored before a restart', async function () {
    const first = open();
    const [ann, bob] = await users(first);
    const dev = await room(first, ann, bob); // bob's join: 1
    await first.appendMessages([note(ann, bob), note(ann, bob)]); // 2, 3
    await first.close();

    const second = open();
    await post(second, dev, ann); // 4
    await second.appendMessages([note(ann, bob)]); // 5
    await post(second, dev, ann); // 6
    expect(await inboxSequences(second, bob)).to.deep.equal([1, 2, 3, 4, 5, 6]);
  });

  it('returns the original for a repeated client id without using up a number', async function () {
    const store = open();
    const [ann, bob] = await users(store);
    const first = note(ann, bob, 'once');
    const results = await store.appendMessages([first, { ...first, body: 'twice' }, note(ann, bob)]);
    expect(results.map((r) => [r.message.sequence, r.message.body, r.duplicate])).to.deep.equal([
      [1, 'once', false],
      [1, 'once', true],
      [2, 'hi', false],
    ]);
    const again = await store.appendMessages([{ ...first, body: 'thrice' }]);
    expect(again.map((r) => [r.message.id, r.message.sequence, r.duplicate])).to.deep.equal([[results[0].message.id, 1, true]]);
  });
});
