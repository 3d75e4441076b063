import { expect } from 'chai';
import { isChatError } from '../../src/chat/errors';
import type { RoomLimits, RoomRecord } from '../../src/store/room-store';
import type { Store, StoredMessage, UserRecord } from '../../src/store/store';
import type { StoreFixture } from './store-contract';

const T0 = 1_700_000_000_000;
const LIMITS: RoomLimits = { maxMembers: 1000, maxRooms: 100 };

/**
 * The room cases of the store contract (src/store/room-store.ts), run for
 * every backend from storeContract.
 */
export function roomContract(getFixture: () => StoreFixture, setStore: (store: Store) => void): void {
  describe('rooms', function () {
    let store: Store;
    let counter = 0;
    beforeEach(function () {
      store = getFixture().store;
    });

    async function user(name: string): Promise<UserRecord> {
      return (await store.registerUser(name, T0)).user;
    }
    const id = () => `r${++counter}`;

    async function join(name: string, who: UserRecord, options: { private?: boolean; limits?: RoomLimits } = {}) {
      return store.joinRoom({
        name,
        userId: who.id,
        createPrivate: options.private ?? false,
        clientId: id(),
        time: T0 + counter,
        limits: options.limits ?? LIMITS,
      });
    }
    async function post(room: RoomRecord, who: UserRecord, body: string, clientId = id()) {
      return store.postToRoom({ roomId: room.id, senderId: who.id, clientId, body, time: T0 + counter, event: 'message' });
    }
    async function inbox(who: UserRecord): Promise<StoredMessage[]> {
      return store.inboxAfter(who.id, 0, 1000);
    }
    async function rejection(promise: Promise<unknown>): Promise<unknown> {
      try {
        await promise;
      } catch (err) {
        return err;
      }
      return expect.fail('expected the promise to reject');
    }
    const summary = (m: StoredMessage) => `${m.sequence} ${m.room ?? '-'} ${m.roomEvent ?? '-'} ${m.sender}: ${m.body}`;

    it('creates a room on first join, owned by its creator, who sees their own join first', async function () {
      const ann = await user('ann');
      const { room, created, result } = await join('#General', ann);
      expect(created).to.equal(true);
      expect(room).to.deep.include({ name: '#General', ownerId: ann.id, owner: 'ann', private: false, topic: '', memberCount: 1 });
      expect(result.message).to.deep.include({ room: '#General', roomEvent: 'joined', sender: 'ann', receiver: 'ann', sequence: 1 });
      expect((await inbox(ann)).map(summary)).to.deep.equal(['1 #General joined ann: ']);
    });

    it('treats names that differ only in case as one room, spelled as created', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      await join('#General', ann);
      const { room, created } = await join('#GENERAL', bob);
      expect(created).to.equal(false);
      expect(room.name).to.equal('#General');
      expect(room.memberCount).to.equal(2);
      expect((await store.findRoom('#general'))?.memberCount).to.equal(2);
    });

    it('gives every member the message at their own next sequence, numbered with one-to-one messages', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      const { room } = await join('#dev', ann);
      await store.appendMessages([{ senderId: ann.id, receiverId: bob.id, clientId: id(), body: 'direct', time: T0 }]);
      await join('#dev', bob);
      const sent = await post(room, ann, 'hello room');
      expect(sent.duplicate).to.equal(false);
      expect(sent.deliveries.map((d) => [d.receiver, d.sequence])).to.deep.equal([
        ['ann', 3],
        ['bob', 3],
      ]);
      expect(sent.message).to.deep.include({ receiver: 'ann', sequence: 3, body: 'hello room', room: '#dev', roomEvent: 'message' });
      expect((await inbox(bob)).map(summary)).to.deep.equal(['1 - - ann: direct', '2 #dev joined bob: ', '3 #dev message ann: hello room']);
      expect((await inbox(ann)).map(summary)).to.deep.equal(['1 #dev joined ann: ', '2 #dev joined bob: ', '3 #dev message ann: hello room']);
      expect((await store.lastSequences([ann.id, bob.id])).get(bob.id)).to.equal(3);
      // A resume from the middle reads on from there, across both kinds.
      expect((await store.inboxAfter(bob.id, 1, 1)).map(summary)).to.deep.equal(['2 #dev joined bob: ']);
    });

    it('stores a repeated (sender, client id) once and fans nothing out again', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      const { room } = await join('#dev', ann);
      await join('#dev', bob);
      const first = await post(room, ann, 'once', 'same');
      const again = await post(room, ann, 'once', 'same');
      expect(again.duplicate).to.equal(true);
      expect(again.deliveries).to.deep.equal([]);
      expect(again.message).to.deep.equal(first.message);
      expect((await inbox(bob)).filter((m) => m.roomEvent === 'message')).to.have.length(1);
    });

    it('refuses posts by non-members, also after they left, and orders the leave with the messages', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      const eve = await user('eve');
      const { room } = await join('#dev', ann);
      await join('#dev', bob);
      const refused = await rejection(post(room, eve, 'let me in'));
      expect(isChatError(refused, 'permission-denied')).to.equal(true);
      await post(room, bob, 'bye');
      const left = await store.leaveRoom(room.id, bob.id, id(), T0 + 50);
      expect(left.deliveries.map((d) => d.receiver)).to.deep.equal(['ann', 'bob']);
      await post(room, ann, 'after bob left');
      expect(isChatError(await rejection(post(room, bob, 'still here?')), 'permission-denied')).to.equal(true);
      expect((await inbox(bob)).map(summary)).to.deep.equal(['1 #dev joined bob: ', '2 #dev message bob: bye', '3 #dev left bob: ']);
      expect((await inbox(ann)).slice(-2).map(summary)).to.deep.equal(['4 #dev left bob: ', '5 #dev message ann: after bob left']);
      expect((await store.findRoom('#dev'))?.memberCount).to.equal(1);
      expect(isChatError(await rejection(store.leaveRoom(room.id, bob.id, id(), T0)), 'failed-precondition')).to.equal(true);
    });

    it('lets the owner kick a member, who sees the kick last', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      const { room } = await join('#dev', ann);
      await join('#dev', bob);
      const kicked = await store.leaveRoom(room.id, bob.id, id(), T0, ann.id);
      expect(kicked.message).to.deep.include({ roomEvent: 'kicked', sender: 'ann', receiver: 'ann', body: 'bob' });
      await post(room, ann, 'quiet now');
      expect((await inbox(bob)).map(summary).at(-1)).to.equal('2 #dev kicked ann: bob');
      expect(await store.isRoomMember(room.id, bob.id)).to.equal(false);
      expect((await store.roomMembers(room.id)).map((m) => m.name)).to.deep.equal(['ann']);
    });

    it('keeps a private room hidden and closed to all but members and the invited', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      const eve = await user('eve');
      const { room } = await join('#ops', ann, { private: true });
      expect(room.private).to.equal(true);
      expect((await store.listRooms(eve.id)).map((r) => r.name)).to.deep.equal([]);
      expect(isChatError(await rejection(join('#ops', eve)), 'not-found')).to.equal(true);
      expect(await store.inviteToRoom(room.id, bob.id)).to.equal('invited');
      expect(await store.inviteToRoom(room.id, bob.id)).to.equal('already-invited');
      expect(await store.isInvited(room.id, bob.id)).to.equal(true);
      expect((await store.listRooms(bob.id)).map((r) => [r.name, r.member, r.invited])).to.deep.equal([['#ops', false, true]]);
      await join('#OPS', bob);
      expect(await store.inviteToRoom(room.id, bob.id)).to.equal('member');
      // The invitation was used up: after leaving, bob needs a new one.
      await store.leaveRoom(room.id, bob.id, id(), T0);
      expect(isChatError(await rejection(join('#ops', bob)), 'not-found')).to.equal(true);
    });

    it('refuses a join over the member limit or the rooms-per-user limit', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      const cat = await user('cat');
      await join('#small', ann, { limits: { maxMembers: 2, maxRooms: 10 } });
      await join('#small', bob, { limits: { maxMembers: 2, maxRooms: 10 } });
      const full = await rejection(join('#small', cat, { limits: { maxMembers: 2, maxRooms: 10 } }));
      expect(isChatError(full, 'resource-exhausted')).to.equal(true);
      await join('#one', cat, { limits: { maxMembers: 10, maxRooms: 1 } });
      const many = await rejection(join('#two', cat, { limits: { maxMembers: 10, maxRooms: 1 } }));
      expect(isChatError(many, 'resource-exhausted')).to.equal(true);
      expect(isChatError(await rejection(join('#one', cat)), 'failed-precondition')).to.equal(true);
    });

    it('shows a member the history from their join on, newest first, paged by id', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      const { room } = await join('#dev', ann);
      await post(room, ann, 'before bob');
      await join('#dev', bob);
      const one = await post(room, ann, 'one');
      await post(room, ann, 'two');
      const bobs = await store.roomHistory(room.id, bob.id, { limit: 10 });
      expect(bobs.map((m) => m.body || m.roomEvent)).to.deep.equal(['two', 'one', 'joined']);
      const page = await store.roomHistory(room.id, bob.id, { beforeId: one.message.id + 1, limit: 1 });
      expect(page.map((m) => m.body)).to.deep.equal(['one']);
      expect((await store.roomHistory(room.id, ann.id, { limit: 10 })).map((m) => m.body || m.roomEvent)).to.deep.equal([
        'two',
        'one',
        'joined',
        'before bob',
        'joined',
      ]);
    });

    it('sets the topic as an entry of the log', async function () {
      const ann = await user('ann');
      const { room } = await join('#dev', ann);
      await store.postToRoom({ roomId: room.id, senderId: ann.id, clientId: id(), body: 'release friday', time: T0, event: 'topic' });
      expect((await store.findRoom('#dev'))?.topic).to.equal('release friday');
      expect((await inbox(ann)).map(summary).at(-1)).to.equal('2 #dev topic ann: release friday');
    });

    it('lists public rooms and the rooms a user is in', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      await join('#b-room', ann);
      await join('#a-room', bob);
      const listed = await store.listRooms(ann.id);
      expect(listed.map((r) => [r.name, r.member, r.memberCount])).to.deep.equal([
        ['#a-room', false, 1],
        ['#b-room', true, 1],
      ]);
      expect((await store.roomsOf(ann.id)).map((r) => r.name)).to.deep.equal(['#b-room']);
    });

    it('gives every member the entries of a room in one order when members post at once', async function () {
      const people = await Promise.all(['ann', 'bob', 'cat', 'dan'].map(user));
      const { room } = await join('#busy', people[0]);
      for (const p of people.slice(1)) await join('#busy', p);
      await Promise.all(people.flatMap((p) => [1, 2, 3, 4, 5].map((n) => post(room, p, `${p.name} ${n}`))));
      const orders = await Promise.all(
        people.map(async (p) => (await inbox(p)).filter((m) => m.roomEvent === 'message').map((m) => m.id)),
      );
      for (const order of orders) {
        expect(order).to.have.length(20);
        expect(order).to.deep.equal(orders[0]);
        expect([...order].sort((a, b) => a - b)).to.deep.equal(order);
      }
      for (const p of people) {
        const sequences = (await inbox(p)).map((m) => m.sequence);
        expect(sequences).to.deep.equal(sequences.map((_, i) => i + 1));
      }
    });

    it('keeps rooms, members and entries across close and reopen', async function () {
      const ann = await user('ann');
      const bob = await user('bob');
      const { room } = await join('#kept', ann, { private: true });
      await store.inviteToRoom(room.id, bob.id);
      await join('#kept', bob);
      const sent = await post(room, bob, 'durable', 'd1');
      const before = await inbox(ann);
      await store.close();
      store = await getFixture().reopen();
      setStore(store);
      expect(await inbox(ann)).to.deep.equal(before);
      expect((await store.findRoom('#KEPT'))?.memberCount).to.equal(2);
      expect(await post(room, bob, 'durable', 'd1')).to.deep.equal({ message: sent.message, deliveries: [], duplicate: true });
      expect((await post(room, ann, 'next')).message.sequence).to.equal(before.length + 1);
    });

    describe('deleting old entries', function () {
      // Entries at chosen times, rather than the counter's.
      async function joinAt(name: string, who: UserRecord, time: number) {
        return store.joinRoom({ name, userId: who.id, createPrivate: false, clientId: id(), time, limits: LIMITS });
      }
      async function postAt(room: RoomRecord, who: UserRecord, body: string, time: number, clientId = id()) {
        return store.postToRoom({ roomId: room.id, senderId: who.id, clientId, body, time, event: 'message' });
      }
      const bodies = (messages: StoredMessage[]) => messages.map((m) => m.body || `${m.roomEvent} ${m.sender}`);

      it("deletes entries older than the time with every member's inbox entry, and keeps the younger ones, the room and its members", async function () {
        const [ann, bob, cat] = [await user('ann'), await user('bob'), await user('cat')];
        const { room } = await joinAt('#dev', ann, T0);
        await joinAt('#dev', bob, T0 + 1);
        await postAt(room, ann, 'old 1', T0 + 2);
        await joinAt('#dev', cat, T0 + 3);
        await postAt(room, cat, 'old 2', T0 + 4);
        await store.leaveRoom(room.id, cat.id, id(), T0 + 5);
        const [direct] = await store.appendMessages([{ senderId: ann.id, receiverId: bob.id, clientId: id(), body: 'old direct', time: T0 + 6 }]);
        const young = await postAt(room, bob, 'young', T0 + 100);
        const lastBefore = await store.lastSequences([ann.id, bob.id, cat.id]);

        expect(await store.deleteRoomMessagesBefore(T0 + 50, 1000)).to.equal(6);
        expect(await store.deleteRoomMessagesBefore(T0 + 50, 1000)).to.equal(0);
        expect(await inbox(ann)).to.deep.equal([young.deliveries.find((d) => d.receiverId === ann.id)]);
        expect(await inbox(bob)).to.deep.equal([direct.message, young.message]);
        expect(await inbox(cat)).to.deep.equal([]);
        expect(bodies(await store.roomHistory(room.id, ann.id, { limit: 10 }))).to.deep.equal(['young']);
        expect(bodies(await store.roomHistory(room.id, bob.id, { limit: 10 }))).to.deep.equal(['young']);
        // A stream resuming from before the deleted entries gets what is left after them.
        expect(bodies(await store.inboxAfter(bob.id, 1, 10))).to.deep.equal(['old direct', 'young']);
        expect(bodies(await store.inboxAfter(cat.id, 1, 10))).to.deep.equal([]);
        expect((await store.findRoom('#dev'))?.memberCount).to.equal(2);
        expect((await store.roomMembers(room.id)).map((m) => m.name)).to.deep.equal(['ann', 'bob']);
        expect(await store.lastSequences([ann.id, bob.id, cat.id])).to.deep.equal(lastBefore);
      });

      it('never hands out the number of a deleted entry again, also after a reopen, and takes a retried client id as new', async function () {
        const dan = await user('dan');
        const { room } = await joinAt('#attic', dan, T0);
        const old = await postAt(room, dan, 'old', T0 + 1, 'kept-id');
        expect(old.message.sequence).to.equal(2);
        expect(await store.deleteRoomMessagesBefore(T0 + 50, 1000)).to.equal(2);
        expect(await inbox(dan)).to.deep.equal([]);
        expect((await store.lastSequences([dan.id])).get(dan.id)).to.equal(2);
        expect((await store.findUserById(dan.id))?.lastSequence).to.equal(2);
        const [direct] = await store.appendMessages([{ senderId: dan.id, receiverId: dan.id, clientId: id(), body: 'note', time: T0 + 100 }]);
        expect(direct.message.sequence).to.equal(3);

        await store.close();
        store = await getFixture().reopen();
        setStore(store);
        expect((await postAt(room, dan, 'after reopen', T0 + 101)).message.sequence).to.equal(4);
        // The sender's receipt went with the entry: the same client id is a new entry, with a new number.
        const retried = await postAt(room, dan, 'old', T0 + 102, 'kept-id');
        expect(retried.duplicate).to.equal(false);
        expect(retried.message.sequence).to.equal(5);
        const [next] = await store.appendMessages([{ senderId: dan.id, receiverId: dan.id, clientId: id(), body: 'note', time: T0 + 103 }]);
        expect(next.message.sequence).to.equal(6);
        expect((await inbox(dan)).map((m) => m.sequence)).to.deep.equal([3, 4, 5, 6]);
      });

      it('deletes whole entries, oldest first, while their inbox entries add up to the limit, and at least one', async function () {
        const [ann, bob, cat] = [await user('ann'), await user('bob'), await user('cat')];
        // Inbox entries of each: ann's join 1, bob's 2, cat's 3, each post 3.
        const { room } = await joinAt('#dev', ann, T0);
        await joinAt('#dev', bob, T0 + 1);
        await joinAt('#dev', cat, T0 + 2);
        await postAt(room, ann, 'old 1', T0 + 3);
        await postAt(room, bob, 'old 2', T0 + 4);
        await postAt(room, cat, 'young', T0 + 100);
        const left = async () => bodies(await store.roomHistory(room.id, cat.id, { limit: 10 })).reverse();

        expect(await store.deleteRoomMessagesBefore(T0 + 50, 4)).to.equal(2);
        expect(bodies(await inbox(ann))).to.deep.equal(['joined cat', 'old 1', 'old 2', 'young']);
        expect(await store.deleteRoomMessagesBefore(T0 + 50, 4)).to.equal(1);
        expect(await left()).to.deep.equal(['old 1', 'old 2', 'young']);
        expect(await store.deleteRoomMessagesBefore(T0 + 50, 2)).to.equal(1);
        expect(await left()).to.deep.equal(['old 2', 'young']);
        expect(await store.deleteRoomMessagesBefore(T0 + 50, 4)).to.equal(1);
        expect(await store.deleteRoomMessagesBefore(T0 + 50, 4)).to.equal(0);
        expect(await left()).to.deep.equal(['young']);
        for (const member of [ann, bob, cat]) expect(bodies(await inbox(member))).to.deep.equal(['young']);
        expect(await store.deleteRoomMessagesBefore(T0 + 50, 0)).to.equal(0);
      });

      it('never deletes an entry stored after a younger one, even when its clock said it was older', async function () {
        const ann = await user('ann');
        const { room } = await joinAt('#dev', ann, T0);
        await postAt(room, ann, 'young', T0 + 100);
        await postAt(room, ann, 'clock stepped back', T0 + 1);
        expect(await store.deleteRoomMessagesBefore(T0 + 50, 1000)).to.equal(1);
        expect(bodies(await inbox(ann))).to.deep.equal(['young', 'clock stepped back']);
      });

      it('leaves one-to-one messages to deleteMessagesBefore, and room entries to deleteRoomMessagesBefore', async function () {
        const [ann, bob] = [await user('ann'), await user('bob')];
        const { room } = await joinAt('#dev', ann, T0);
        await store.appendMessages([{ senderId: bob.id, receiverId: ann.id, clientId: id(), body: 'old direct', time: T0 + 1 }]);
        await postAt(room, ann, 'old room', T0 + 2);
        expect(await store.deleteMessagesBefore(T0 + 50, 1000)).to.equal(1);
        expect(bodies(await inbox(ann))).to.deep.equal(['joined ann', 'old room']);
        expect(await store.deleteRoomMessagesBefore(T0 + 50, 1000)).to.equal(2);
        expect(await inbox(ann)).to.deep.equal([]);
      });
    });
  });
}
