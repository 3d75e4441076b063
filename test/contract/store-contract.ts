import { expect } from 'chai';
import { isChatError } from '../../src/chat/errors';
import { roomContract } from './room-contract';
import type { FileRef, NewMessage, SessionRecord, Store, StoredMessage, UserRecord } from '../../src/store/store';

/** A fresh, empty store for one test, and how to get rid of it. */
export interface StoreFixture {
  store: Store;
  /** Opens the same data again (after the test closed `store`). */
  reopen(): Promise<Store>;
  /** Closes every store this fixture opened (closed or not) and deletes its data. */
  cleanup(): Promise<void>;
}

/**
 * Defines the mocha suite every Store backend must pass: the contract written
 * in src/store/store.ts. `makeStore` is called once per test and must return
 * an empty store.
 */
export function storeContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, function () {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async function () {
      fixture = await makeStore();
      store = fixture.store;
    });

    afterEach(async function () {
      await fixture.cleanup();
    });

    const T0 = 1_700_000_000_000;

    async function user(name: string): Promise<UserRecord> {
      return (await store.registerUser(name, T0)).user;
    }

    let clientCounter = 0;
    /** Opens a session as a login does (recordLogin, which also marks the user seen at `createdAt`), with its peer when given. */
    async function openSession(session: SessionRecord): Promise<void> {
      await store.recordLogin({ user: { id: session.userId }, tokenHash: session.tokenHash, time: session.createdAt, expiresAt: session.expiresAt });
      if (session.peerId !== undefined) await store.setSessionPeer(session.tokenHash, session.peerId);
    }

    function msg(from: UserRecord, to: UserRecord, body: string, clientId = `c${++clientCounter}`): NewMessage {
      return { senderId: from.id, receiverId: to.id, clientId, body, time: T0 + clientCounter };
    }

    async function expectRejection(promise: Promise<unknown>): Promise<unknown> {
      try {
        await promise;
      } catch (err) {
        return err;
      }
      expect.fail('expected the promise to reject');
    }

    describe('users', function () {
      it('registers a new user with a positive id, its spelling and empty positions', async function () {
        const { user: ann, created } = await store.registerUser('AnnMarie', T0);
        expect(created).to.equal(true);
        expect(ann.id).to.be.a('number').greaterThan(0);
        expect(ann).to.deep.include({ name: 'AnnMarie', createdAt: T0, lastSeenAt: T0, lastSequence: 0, ackedSequence: 0 });
      });

      it('returns the existing user, spelled as first registered, for the same name in any case', async function () {
        const first = await store.registerUser('Bob', T0);
        const again = await store.registerUser('bOB', T0 + 5);
        expect(again.created).to.equal(false);
        expect(again.user).to.deep.equal(first.user);
        expect(again.user.name).to.equal('Bob');
      });

      it('yields one user when one new name is registered several times at once', async function () {
        const results = await Promise.all(['carol', 'Carol', 'CAROL', 'carol'].map((n) => store.registerUser(n, T0)));
        expect(new Set(results.map((r) => r.user.id)).size).to.equal(1);
        expect(results.filter((r) => r.created)).to.have.length(1);
        expect(await store.listUsers()).to.have.length(1);
      });

      it('finds several users by name in one read, regardless of case, each once, leaving out names of nobody', async function () {
        const [ann, bob] = [await user('Ann'), await user('bob')];
        await user('carol');
        const found = await store.findUsersByName(['ANN', 'bob', 'Bob', 'nobody']);
        expect(found.map((u) => u.id).sort((a, b) => a - b)).to.deep.equal([ann.id, bob.id].sort((a, b) => a - b));
        expect(found.find((u) => u.id === ann.id)).to.deep.equal(await store.findUserById(ann.id));
        expect(await store.findUsersByName([])).to.deep.equal([]);
      });

      it('gives different users different ids', async function () {
        const ids = await Promise.all(['a', 'b', 'c', 'd'].map(async (n) => (await user(n)).id));
        expect(new Set(ids).size).to.equal(4);
      });

      it('finds a user by id and by name in any case, and nothing for unknown ones', async function () {
        const dave = await user('Dave');
        expect(await store.findUserById(dave.id)).to.deep.equal(dave);
        expect(await store.findUserByName('dave')).to.deep.equal(dave);
        expect(await store.findUserByName('DAVE')).to.deep.equal(dave);
        expect(await store.findUserById(dave.id + 1000)).to.equal(undefined);
        expect(await store.findUserByName('eve')).to.equal(undefined);
      });

      it('lists every user sorted by name regardless of case', async function () {
        for (const n of ['zed', 'Bob', 'alice', 'Carl', 'bea']) await user(n);
        const names = (await store.listUsers()).map((u) => u.name);
        expect(names).to.deep.equal(['alice', 'bea', 'Bob', 'Carl', 'zed']);
      });

      it('lists nobody when no one has registered', async function () {
        expect(await store.listUsers()).to.deep.equal([]);
      });

      it('records when a user was last seen', async function () {
        const fay = await user('fay');
        await store.touchUser(fay.id, T0 + 60_000);
        expect((await store.findUserById(fay.id))?.lastSeenAt).to.equal(T0 + 60_000);
        expect((await store.findUserById(fay.id))?.createdAt).to.equal(T0);
      });
    });

    describe('sessions', function () {
      it('finds a stored session by its token hash, without a peer at first', async function () {
        const gus = await user('gus');
        await openSession({ tokenHash: 'h1', userId: gus.id, createdAt: T0, expiresAt: T0 + 1000 });
        const found = await store.findSession('h1');
        expect(found).to.deep.include({ tokenHash: 'h1', userId: gus.id, createdAt: T0, expiresAt: T0 + 1000 });
        expect(found?.peerId).to.equal(undefined);
        expect(await store.findSession('nope')).to.equal(undefined);
      });

      it('returns an expired session too, leaving the expiry check to the caller', async function () {
        const hal = await user('hal');
        await openSession({ tokenHash: 'old', userId: hal.id, createdAt: T0 - 10, expiresAt: T0 - 5 });
        expect((await store.findSession('old'))?.expiresAt).to.equal(T0 - 5);
      });

      it('finds a session with its user in one read, expired or not, and nothing for an unknown hash', async function () {
        const gil = (await store.registerUser('Gil', T0, 'hash-g')).user;
        const ivy = await user('ivy');
        await openSession({ tokenHash: 'g1', userId: gil.id, createdAt: T0 + 1, expiresAt: T0 - 5, peerId: ivy.id });
        await openSession({ tokenHash: 'g2', userId: gil.id, createdAt: T0 + 2, expiresAt: T0 + 1000 });
        const gilNow = await store.findUserById(gil.id);
        expect(gilNow).to.deep.equal({ ...gil, lastSeenAt: T0 + 2 });
        expect(await store.findSessionUser('g1')).to.deep.equal({
          session: { tokenHash: 'g1', userId: gil.id, createdAt: T0 + 1, expiresAt: T0 - 5, peerId: ivy.id },
          user: gilNow,
        });
        expect(await store.findSessionUser('g2')).to.deep.equal({ session: await store.findSession('g2'), user: gilNow });
        expect(await store.findSessionUser('nope')).to.equal(undefined);
      });

      it("gives the session's user as a user read does, newest inbox sequence included", async function () {
        const jan = await user('jan');
        const kit = await user('kit');
        await openSession({ tokenHash: 'j1', userId: jan.id, createdAt: T0, expiresAt: T0 + 1000 });
        await store.appendMessages([msg(kit, jan, 'one'), msg(kit, jan, 'two')]);
        const found = await store.findSessionUser('j1');
        expect(found?.user.lastSequence).to.equal(2);
        expect(found?.user).to.deep.equal(await store.findUserById(jan.id));
      });

      it('sets and clears the conversation a session has open', async function () {
        const ida = await user('ida');
        const jon = await user('jon');
        await openSession({ tokenHash: 'h2', userId: ida.id, createdAt: T0, expiresAt: T0 + 1000 });
        await store.setSessionPeer('h2', jon.id);
        expect((await store.findSession('h2'))?.peerId).to.equal(jon.id);
        await store.setSessionPeer('h2', undefined);
        expect((await store.findSession('h2'))?.peerId).to.equal(undefined);
      });

      it('deletes a session and says whether it existed', async function () {
        const kim = await user('kim');
        await openSession({ tokenHash: 'h3', userId: kim.id, createdAt: T0, expiresAt: T0 + 1000 });
        expect(await store.deleteSession('h3', 'logout', T0)).to.equal(true);
        expect(await store.findSession('h3')).to.equal(undefined);
        expect(await store.deleteSession('h3', 'logout', T0)).to.equal(false);
      });

      it("deletes every session of a user but the one kept, and no one else's", async function () {
        const lea = await user('lea');
        const max = await user('max');
        for (const [hash, owner] of [['l1', lea], ['l2', lea], ['l3', lea], ['m1', max]] as const) {
          await openSession({ tokenHash: hash, userId: owner.id, createdAt: T0, expiresAt: T0 + 1000 });
        }
        expect(await store.deleteUserSessions(lea.id, 'password-changed', T0, 'l2')).to.equal(2);
        expect(await store.findSession('l1')).to.equal(undefined);
        expect(await store.findSession('l2')).to.not.equal(undefined);
        expect(await store.findSession('m1')).to.not.equal(undefined);
        expect(await store.deleteUserSessions(lea.id, 'disabled', T0)).to.equal(1);
        expect(await store.findSession('l2')).to.equal(undefined);
      });
    });

    describe('logins', function () {
      it('registers a first login and opens its session in one call', async function () {
        const first = await store.recordLogin({ user: { name: 'Pia', passwordHash: 'hash-p' }, tokenHash: 'p1', time: T0, expiresAt: T0 + 1000 });
        expect(first.created).to.equal(true);
        expect(first.opened).to.equal(true);
        expect(first.user).to.deep.include({ name: 'Pia', createdAt: T0, lastSeenAt: T0, passwordHash: 'hash-p', disabled: false });
        expect(await store.findUserByName('pia')).to.deep.equal(first.user);
        expect(await store.findSession('p1')).to.deep.include({ userId: first.user.id, createdAt: T0, expiresAt: T0 + 1000 });
      });

      it('opens a session for a user by id and records when they were seen', async function () {
        const quinn = await user('quinn');
        const login = await store.recordLogin({ user: { id: quinn.id }, tokenHash: 'q1', time: T0 + 50, expiresAt: T0 + 1000 });
        expect(login).to.deep.equal({ user: { ...quinn, lastSeenAt: T0 + 50 }, created: false, opened: true });
        expect(await store.findUserById(quinn.id)).to.deep.equal(login.user);
        expect(await store.findSession('q1')).to.deep.include({ userId: quinn.id, createdAt: T0 + 50 });
      });

      it('stores nothing for a first login of a name already taken, and returns its holder unchanged', async function () {
        const rex = (await store.registerUser('Rex', T0, 'hash-r')).user;
        const login = await store.recordLogin({ user: { name: 'REX', passwordHash: 'other' }, tokenHash: 'r1', time: T0 + 50, expiresAt: T0 + 1000 });
        expect(login).to.deep.equal({ user: rex, created: false, opened: false });
        expect(await store.findSession('r1')).to.equal(undefined);
        expect(await store.findUserById(rex.id)).to.deep.equal(rex);
      });

      it('rejects a login by an unknown id with not-found and stores no session', async function () {
        const err = await expectRejection(store.recordLogin({ user: { id: 999_999 }, tokenHash: 'u1', time: T0, expiresAt: T0 + 1000 }));
        expect(isChatError(err, 'not-found')).to.equal(true, String(err));
        expect(await store.findSession('u1')).to.equal(undefined);
      });

      it('leaves no account behind when the session of a first login cannot be stored', async function () {
        const sam = await user('sam');
        await openSession({ tokenHash: 'taken', userId: sam.id, createdAt: T0, expiresAt: T0 + 1000 });
        await expectRejection(store.recordLogin({ user: { name: 'tea', passwordHash: 'hash-t' }, tokenHash: 'taken', time: T0 + 5, expiresAt: T0 + 1000 }));
        expect(await store.findUserByName('tea')).to.equal(undefined);
        await expectRejection(store.recordLogin({ user: { id: sam.id }, tokenHash: 'taken', time: T0 + 5, expiresAt: T0 + 1000 }));
        expect((await store.findUserById(sam.id))?.lastSeenAt).to.equal(T0);
        expect(await store.findSession('taken')).to.deep.include({ userId: sam.id, createdAt: T0 });
      });

      it('registers a name once when first logins race, opening only the winner\'s session', async function () {
        const logins = await Promise.all(
          ['uma', 'Uma', 'UMA'].map((name, i) => store.recordLogin({ user: { name, passwordHash: `h${i}` }, tokenHash: `t${i}`, time: T0, expiresAt: T0 + 1000 })),
        );
        expect(logins.filter((login) => login.created && login.opened)).to.have.length(1);
        expect(new Set(logins.map((login) => login.user.id)).size).to.equal(1);
        const sessions = await Promise.all(['t0', 't1', 't2'].map((hash) => store.findSession(hash)));
        expect(sessions.filter((session) => session !== undefined)).to.have.length(1);
      });
    });

    describe('checks', function () {
      it('reads the newest inbox sequence of many users at once, leaving out unknown ids', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const cat = await user('cat');
        await store.appendMessages([msg(ann, bob, 'one'), msg(ann, bob, 'two'), msg(bob, ann, 'three')]);
        const heads = await store.lastSequences([ann.id, bob.id, cat.id, 999_999]);
        expect([...heads].sort(([a], [b]) => a - b)).to.deep.equal(
          [
            [ann.id, 1],
            [bob.id, 2],
            [cat.id, 0],
          ].sort(([a], [b]) => a - b),
        );
        expect((await store.lastSequences([])).size).to.equal(0);
      });

      it('answers a ping while it can be used', async function () {
        await store.ping();
      });
    });

    describe('session ends', function () {
      it('records every ended session, in order, for other servers to act on', async function () {
        const ned = await user('ned');
        const ola = await user('ola');
        expect(await store.lastSessionEndId()).to.equal(0);
        await openSession({ tokenHash: 'n1', userId: ned.id, createdAt: T0, expiresAt: T0 + 1000 });
        await store.deleteSession('n1', 'logout', T0 + 1);
        await store.deleteUserSessions(ola.id, 'password-changed', T0 + 2, 'o-kept');
        await store.deleteUserSessions(ned.id, 'disabled', T0 + 3);
        const ends = await store.sessionEndsAfter(0, 10);
        expect(ends.map(({ id: _id, ...rest }) => rest)).to.deep.equal([
          { userId: ned.id, tokenHash: 'n1', reason: 'logout', time: T0 + 1 },
          { userId: ola.id, keptTokenHash: 'o-kept', reason: 'password-changed', time: T0 + 2 },
          { userId: ned.id, reason: 'disabled', time: T0 + 3 },
        ]);
        const ids = ends.map((end) => end.id);
        expect(ids[0]).to.be.greaterThan(0);
        expect(ids[1]).to.be.greaterThan(ids[0]);
        expect(ids[2]).to.be.greaterThan(ids[1]);
        expect(await store.lastSessionEndId()).to.equal(ids[2]);
        expect((await store.sessionEndsAfter(ids[0], 10)).map((end) => end.id)).to.deep.equal(ids.slice(1));
        expect(await store.sessionEndsAfter(ids[0], 1)).to.have.length(1);
        expect(await store.sessionEndsAfter(ids[2], 10)).to.deep.equal([]);
        expect(await store.sessionEndsAfter(0, 0)).to.deep.equal([]);
      });

      it('records nothing for a session that did not exist', async function () {
        expect(await store.deleteSession('never', 'logout', T0)).to.equal(false);
        expect(await store.sessionEndsAfter(0, 10)).to.deep.equal([]);
      });

      it('prunes ends recorded before a time, and keeps numbering after them', async function () {
        const pia = await user('pia');
        await store.deleteUserSessions(pia.id, 'disabled', T0);
        await store.deleteUserSessions(pia.id, 'password-reset', T0 + 100);
        expect(await store.pruneSessionEnds(T0 + 50)).to.equal(1);
        const left = await store.sessionEndsAfter(0, 10);
        expect(left.map((end) => end.reason)).to.deep.equal(['password-reset']);
        await store.deleteUserSessions(pia.id, 'disabled', T0 + 200);
        const after = await store.sessionEndsAfter(left[0].id, 10);
        expect(after).to.have.length(1);
        expect(after[0].id).to.be.greaterThan(left[0].id);
      });

      it('keeps the log across a reopen', async function () {
        const quin = await user('quin');
        await store.deleteUserSessions(quin.id, 'disabled', T0);
        const last = await store.lastSessionEndId();
        await store.close();
        store = await fixture.reopen();
        expect(await store.lastSessionEndId()).to.equal(last);
      });
    });

    describe('appending messages', function () {
      it('returns each stored message with its id, both names and its inbox sequence, in batch order', async function () {
        const ann = await user('Ann');
        const bob = await user('Bob');
        const results = await store.appendMessages([msg(ann, bob, 'one', 'x1'), msg(bob, ann, 'two', 'x2'), msg(ann, bob, 'three', 'x3')]);
        expect(results.map((r) => r.duplicate)).to.deep.equal([false, false, false]);
        expect(results.map((r) => r.message.body)).to.deep.equal(['one', 'two', 'three']);
        expect(results[0].message).to.deep.include({
          senderId: ann.id,
          receiverId: bob.id,
          sender: 'Ann',
          receiver: 'Bob',
          clientId: 'x1',
          sequence: 1,
        });
        expect(results[1].message).to.deep.include({ sender: 'Bob', receiver: 'Ann', sequence: 1 });
        expect(results[2].message.sequence).to.equal(2);
      });

      it('stores nothing and returns nothing for an empty batch', async function () {
        expect(await store.appendMessages([])).to.deep.equal([]);
      });

      it('numbers every inbox 1, 2, 3, … without gaps, across batches and receivers', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const cat = await user('cat');
        const sequences = new Map<number, number[]>([
          [bob.id, []],
          [cat.id, []],
        ]);
        for (let round = 0; round < 5; round++) {
          const batch = [msg(ann, bob, 'b'), msg(ann, cat, 'c'), msg(cat, bob, 'b'), msg(bob, cat, 'c')];
          for (const r of await store.appendMessages(batch)) sequences.get(r.message.receiverId)?.push(r.message.sequence);
        }
        const oneToTen = Array.from({ length: 10 }, (_, i) => i + 1);
        expect(sequences.get(bob.id)).to.deep.equal(oneToTen);
        expect(sequences.get(cat.id)).to.deep.equal(oneToTen);
        expect((await store.findUserById(bob.id))?.lastSequence).to.equal(10);
        expect((await store.findUserById(ann.id))?.lastSequence).to.equal(0);
      });

      it('gives ids that increase in the order messages were stored', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const first = await store.appendMessages([msg(ann, bob, '1'), msg(bob, ann, '2'), msg(ann, bob, '3')]);
        const second = await store.appendMessages([msg(bob, ann, '4'), msg(ann, bob, '5')]);
        const ids = [...first, ...second].map((r) => r.message.id);
        expect(ids.every((id, i) => i === 0 || id > ids[i - 1])).to.equal(true, `ids ${ids.join(', ')}`);
      });

      it('stores nothing of a failing batch and uses up no sequence numbers', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        await store.appendMessages([msg(ann, bob, 'before')]);
        const ghost = { ...msg(ann, bob, 'to nobody'), receiverId: bob.id + 1000 };
        const err = await expectRejection(store.appendMessages([msg(ann, bob, 'lost 1'), ghost, msg(ann, bob, 'lost 2')]));
        expect(err).to.be.instanceOf(Error);
        expect((await store.inboxAfter(bob.id, 0, 10)).map((m) => m.body)).to.deep.equal(['before']);
        expect((await store.findUserById(bob.id))?.lastSequence).to.equal(1);
        const [after] = await store.appendMessages([msg(ann, bob, 'after')]);
        expect(after.message.sequence).to.equal(2);
      });

      it('rejects a message for or from an unknown user with not-found', async function () {
        const ann = await user('ann');
        const toNobody = { ...msg(ann, ann, 'x'), receiverId: ann.id + 1000 };
        const fromNobody = { ...msg(ann, ann, 'y'), senderId: ann.id + 1000 };
        for (const bad of [toNobody, fromNobody]) {
          const err = await expectRejection(store.appendMessages([bad]));
          expect(isChatError(err, 'not-found')).to.equal(true, String(err));
        }
      });

      it('returns the original with duplicate: true when a send is retried in a later batch', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const [original] = await store.appendMessages([msg(ann, bob, 'hello', 'same')]);
        const [retry, next] = await store.appendMessages([
          { ...msg(ann, bob, 'hello again', 'same'), time: T0 + 999_999 },
          msg(ann, bob, 'next'),
        ]);
        expect(retry).to.deep.equal({ message: original.message, duplicate: true });
        expect(next.message.sequence).to.equal(2);
        expect(await store.inboxAfter(bob.id, 0, 10)).to.have.length(2);
      });

      it('treats a repeat within one batch as a duplicate of the earlier message', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const results = await store.appendMessages([msg(ann, bob, 'a', 'k1'), msg(ann, bob, 'a', 'k1'), msg(ann, bob, 'b', 'k2')]);
        expect(results.map((r) => r.duplicate)).to.deep.equal([false, true, false]);
        expect(results[1].message).to.deep.equal(results[0].message);
        expect(results.map((r) => r.message.sequence)).to.deep.equal([1, 1, 2]);
        expect((await store.findUserById(bob.id))?.lastSequence).to.equal(2);
      });

      it('tells apart equal client ids from different senders', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const cat = await user('cat');
        const results = await store.appendMessages([msg(ann, cat, 'from ann', 'k'), msg(bob, cat, 'from bob', 'k')]);
        expect(results.map((r) => r.duplicate)).to.deep.equal([false, false]);
        expect(results.map((r) => r.message.sequence)).to.deep.equal([1, 2]);
      });
    });

    describe('reading messages', function () {
      it('pages through an inbox after a sequence number, oldest first, up to a limit', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        await store.appendMessages([1, 2, 3, 4, 5].map((i) => msg(ann, bob, `m${i}`)));
        await store.appendMessages([msg(bob, ann, 'not in bob’s inbox')]);
        const page1 = await store.inboxAfter(bob.id, 0, 2);
        const page2 = await store.inboxAfter(bob.id, 2, 2);
        const page3 = await store.inboxAfter(bob.id, 4, 2);
        expect(page1.map((m) => m.body)).to.deep.equal(['m1', 'm2']);
        expect(page2.map((m) => m.sequence)).to.deep.equal([3, 4]);
        expect(page3.map((m) => m.body)).to.deep.equal(['m5']);
        expect(await store.inboxAfter(bob.id, 5, 10)).to.deep.equal([]);
        expect(page1[0]).to.deep.include({ sender: 'ann', receiver: 'bob', senderId: ann.id, receiverId: bob.id });
      });

      it('reads back a message exactly as appending returned it', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const [stored] = await store.appendMessages([msg(ann, bob, 'ünïcödé ✓ and "quotes"\nnew line')]);
        const [read] = await store.inboxAfter(bob.id, 0, 1);
        expect(read).to.deep.equal(stored.message);
      });

      it('returns a conversation in both directions, newest first, without other people’s messages', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const cat = await user('cat');
        await store.appendMessages([msg(ann, bob, '1'), msg(bob, ann, '2'), msg(ann, cat, 'other'), msg(cat, bob, 'other')]);
        await store.appendMessages([msg(ann, bob, '3')]);
        const fromAnn = await store.conversation(ann.id, bob.id, { limit: 10 });
        const fromBob = await store.conversation(bob.id, ann.id, { limit: 10 });
        expect(fromAnn.map((m) => m.body)).to.deep.equal(['3', '2', '1']);
        expect(fromBob).to.deep.equal(fromAnn);
      });

      it('pages a conversation back with beforeId and stops at the limit', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const stored = await store.appendMessages([1, 2, 3, 4, 5].map((i) => (i % 2 ? msg(ann, bob, `${i}`) : msg(bob, ann, `${i}`))));
        const newest = await store.conversation(ann.id, bob.id, { limit: 2 });
        expect(newest.map((m) => m.body)).to.deep.equal(['5', '4']);
        const older = await store.conversation(ann.id, bob.id, { beforeId: newest[1].id, limit: 2 });
        expect(older.map((m) => m.body)).to.deep.equal(['3', '2']);
        const oldest = await store.conversation(ann.id, bob.id, { beforeId: older[1].id, limit: 2 });
        expect(oldest.map((m) => m.body)).to.deep.equal(['1']);
        expect(await store.conversation(ann.id, bob.id, { beforeId: stored[0].message.id, limit: 2 })).to.deep.equal([]);
      });

      it('returns an empty conversation between people who never wrote', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        expect(await store.conversation(ann.id, bob.id, { limit: 5 })).to.deep.equal([]);
      });
    });

    describe('searching messages', function () {
      it('finds the messages a user sent or received that hold every word, regardless of case, newest first and at most the limit', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const cat = await user('cat');
        await store.appendMessages([
          msg(ann, bob, 'The Lighthouse keeper waves'),
          msg(bob, ann, 'a lighthouse at night'),
          msg(cat, bob, 'lighthouse keeper, not for ann'),
          msg(bob, ann, 'keeper of the LIGHTHOUSE'),
          msg(ann, cat, 'lighthouses are not a lighthouse-free word'),
        ]);
        const found = await store.search(ann.id, ['lighthouse', 'KEEPER'], 10);
        expect(found.map((m) => m.body)).to.deep.equal(['keeper of the LIGHTHOUSE', 'The Lighthouse keeper waves']);
        expect(found[0]).to.deep.include({ sender: 'bob', receiver: 'ann' });
        expect((await store.search(ann.id, ['lighthouse'], 2)).map((m) => m.body)).to.deep.equal([
          'lighthouses are not a lighthouse-free word',
          'keeper of the LIGHTHOUSE',
        ]);
        expect((await store.search(cat.id, ['lighthouse'], 10)).map((m) => m.body)).to.deep.equal([
          'lighthouses are not a lighthouse-free word',
          'lighthouse keeper, not for ann',
        ]);
      });

      it('matches whole words only and finds nothing for a word nobody wrote', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        await store.appendMessages([msg(ann, bob, 'xylophone practice')]);
        expect(await store.search(ann.id, ['xylo'], 10)).to.deep.equal([]);
        expect(await store.search(ann.id, ['practice', 'piano'], 10)).to.deep.equal([]);
        expect(await store.search(ann.id, [], 10)).to.deep.equal([]);
        expect(await store.search(ann.id, ['practice'], 0)).to.deep.equal([]);
      });

      it('reads words as text, never as a query language', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        await store.appendMessages([msg(ann, bob, 'xylophone or drums'), msg(ann, bob, 'near the end')]);
        for (const word of ['"', "'", '*', 'xylo*', '-drums', 'AND', ':', '(', ')', '^', '&', '|', '!', '\\', '"xylophone']) {
          const found = await store.search(ann.id, [word], 10);
          expect(found.map((m) => m.body), `searching for ${word}`).to.not.include('near the end');
        }
        expect((await store.search(ann.id, ['OR'], 10)).map((m) => m.body)).to.deep.equal(['xylophone or drums']);
        expect((await store.search(ann.id, ['NEAR('], 10)).map((m) => m.body)).to.deep.equal(['near the end']);
      });
    });

    describe('message kinds', function () {
      it('keeps an action an action wherever the message is read, and a message without a kind text', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        const [action, text] = await store.appendMessages([{ ...msg(ann, bob, 'waves hello'), kind: 'action' }, msg(ann, bob, 'hello')]);
        expect([action.message.kind, text.message.kind]).to.deep.equal(['action', 'text']);
        expect((await store.inboxAfter(bob.id, 0, 10)).map((m) => m.kind)).to.deep.equal(['action', 'text']);
        expect((await store.conversation(ann.id, bob.id, { limit: 10 })).map((m) => m.kind)).to.deep.equal(['text', 'action']);
        expect((await store.search(bob.id, ['waves'], 10)).map((m) => m.kind)).to.deep.equal(['action']);
        const [again] = await store.appendMessages([{ ...msg(ann, bob, 'waves hello', action.message.clientId), kind: 'action' }]);
        expect(again.duplicate).to.equal(true);
        expect(again.message.kind).to.equal('action');
      });
    });

    describe('deleting old messages', function () {
      function at(from: UserRecord, to: UserRecord, body: string, time: number): NewMessage {
        return { senderId: from.id, receiverId: to.id, clientId: `c${++clientCounter}`, body, time };
      }

      it('deletes messages older than the time, oldest first and at most the limit, and keeps the younger ones as they were', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        await store.appendMessages([at(ann, bob, 'old 1', T0), at(bob, ann, 'old 2', T0 + 1), at(ann, bob, 'old 3', T0 + 2)]);
        const [young] = await store.appendMessages([at(ann, bob, 'young', T0 + 100)]);
        expect(await store.deleteMessagesBefore(T0 + 50, 2)).to.equal(2);
        expect((await store.conversation(ann.id, bob.id, { limit: 10 })).map((m) => m.body)).to.deep.equal(['young', 'old 3']);
        expect(await store.deleteMessagesBefore(T0 + 50, 2)).to.equal(1);
        expect(await store.deleteMessagesBefore(T0 + 50, 2)).to.equal(0);
        expect(await store.inboxAfter(bob.id, 0, 10)).to.deep.equal([young.message]);
        expect(await store.inboxAfter(ann.id, 0, 10)).to.deep.equal([]);
        expect((await store.findUserById(bob.id))?.lastSequence).to.equal(3);
        const [next] = await store.appendMessages([at(ann, bob, 'next', T0 + 200)]);
        expect(next.message.sequence).to.equal(4);
        expect(next.message.id).to.be.greaterThan(young.message.id);
      });

      it('never deletes a message stored after a younger one, even when its clock said it was older', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        await store.appendMessages([at(ann, bob, 'old', T0), at(ann, bob, 'young', T0 + 100), at(ann, bob, 'clock stepped back', T0 + 1)]);
        expect(await store.deleteMessagesBefore(T0 + 50, 10)).to.equal(1);
        expect((await store.inboxAfter(bob.id, 0, 10)).map((m) => m.body)).to.deep.equal(['young', 'clock stepped back']);
      });

      it('leaves deleted messages out of search', async function () {
        const ann = await user('ann');
        const bob = await user('bob');
        await store.appendMessages([at(ann, bob, 'the lighthouse keeper', T0), at(ann, bob, 'another lighthouse', T0 + 100)]);
        await store.deleteMessagesBefore(T0 + 50, 10);
        expect((await store.search(ann.id, ['lighthouse'], 10)).map((m) => m.body)).to.deep.equal(['another lighthouse']);
      });
    });

    describe('acknowledging', function () {
      it('moves the acknowledged sequence forward and ignores lower values', async function () {
        const ann = await user('ann');
        await store.ack([{ userId: ann.id, sequence: 3 }]);
        expect((await store.findUserById(ann.id))?.ackedSequence).to.equal(3);
        await store.ack([{ userId: ann.id, sequence: 2 }]);
        expect((await store.findUserById(ann.id))?.ackedSequence).to.equal(3);
        await store.ack([{ userId: ann.id, sequence: 7 }]);
        expect((await store.findUserById(ann.id))?.ackedSequence).to.equal(7);
      });

      it("records many users' positions at once, each only forward, and leaves the others alone", async function () {
        const [ann, bob, cat] = [await user('ann'), await user('bob'), await user('cat')];
        await store.ack([{ userId: bob.id, sequence: 9 }]);
        await store.ack([
          { userId: bob.id, sequence: 4 },
          { userId: ann.id, sequence: 5 },
          { userId: ann.id, sequence: 2 },
        ]);
        await store.ack([]);
        expect((await store.findUserById(ann.id))?.ackedSequence).to.equal(5);
        expect((await store.findUserById(bob.id))?.ackedSequence).to.equal(9);
        expect((await store.findUserById(cat.id))?.ackedSequence).to.equal(0);
      });
    });

    describe('file messages', function () {
      const report: FileRef = { name: 'report.pdf', size: 123_456, sha256: 'ab'.repeat(32), mediaType: 'application/pdf' };
      const photo: FileRef = { name: 'photo.png', size: 42, sha256: 'cd'.repeat(32), mediaType: 'image/png' };

      it('stores a file message with its FileRef and returns it from every read', async function () {
        const ann = await user('Ann');
        const bob = await user('Bob');
        const [appended] = await store.appendMessages([{ ...msg(ann, bob, 'the quarterly report'), file: report }]);
        expect(appended.message.file).to.deep.equal(report);
        expect((await store.inboxAfter(bob.id, 0, 10))[0]).to.deep.equal(appended.message);
        expect((await store.conversation(ann.id, bob.id, { limit: 10 }))[0]).to.deep.equal(appended.message);
        expect(await store.messageById(appended.message.id)).to.deep.equal(appended.message);
        expect((await store.search(bob.id, ['report'], 10))[0]).to.deep.equal(appended.message);
      });

      it('gives text messages no file property at all', async function () {
        const ann = await user('Ann');
        const bob = await user('Bob');
        const [text] = await store.appendMessages([msg(ann, bob, 'just words')]);
        expect(text.message).to.not.have.property('file');
        expect(await store.inboxAfter(bob.id, 0, 10)).to.deep.equal([text.message]);
      });

      it('returns the original FileRef to a retried send', async function () {
        const ann = await user('Ann');
        const bob = await user('Bob');
        await store.appendMessages([{ ...msg(ann, bob, 'photo.png', 'f1'), file: photo }]);
        const [retry] = await store.appendMessages([{ ...msg(ann, bob, 'photo.png', 'f1'), file: photo }]);
        expect(retry.duplicate).to.equal(true);
        expect(retry.message.file).to.deep.equal(photo);
      });

      it('lists the file messages of one conversation, both directions, newest first, up to the limit', async function () {
        const ann = await user('Ann');
        const bob = await user('Bob');
        const cy = await user('Cy');
        const [first] = await store.appendMessages([{ ...msg(ann, bob, 'report.pdf'), file: report }]);
        await store.appendMessages([msg(ann, bob, 'words between')]);
        await store.appendMessages([{ ...msg(ann, cy, 'not this conversation'), file: photo }]);
        const [second] = await store.appendMessages([{ ...msg(bob, ann, 'photo.png'), file: photo }]);
        expect(await store.conversationFiles(bob.id, ann.id, 10)).to.deep.equal([second.message, first.message]);
        expect(await store.conversationFiles(ann.id, bob.id, 1)).to.deep.equal([second.message]);
        expect(await store.conversationFiles(ann.id, bob.id, 0)).to.deep.equal([]);
      });

      it('finds no message for an id that was never stored', async function () {
        expect(await store.messageById(987_654)).to.equal(undefined);
      });
    });

    describe('durability', function () {
      it('keeps users, sessions, messages and positions across close and reopen', async function () {
        const ann = await user('Ann');
        const bob = await user('Bob');
        await openSession({ tokenHash: 'keep', userId: ann.id, createdAt: T0, expiresAt: T0 + 1000, peerId: bob.id });
        const stored = await store.appendMessages([msg(ann, bob, 'kept', 'k1'), msg(bob, ann, 'kept too', 'k2')]);
        await store.ack([{ userId: bob.id, sequence: 1 }]);
        const usersBefore = await store.listUsers();
        await store.close();

        store = await fixture.reopen();
        expect(await store.listUsers()).to.deep.equal(usersBefore);
        expect((await store.findSession('keep'))?.peerId).to.equal(bob.id);
        const history: StoredMessage[] = await store.conversation(ann.id, bob.id, { limit: 10 });
        expect(history).to.deep.equal(stored.map((r) => r.message).reverse());
        const [retry] = await store.appendMessages([msg(ann, bob, 'kept', 'k1')]);
        expect(retry).to.deep.equal({ message: stored[0].message, duplicate: true });
        const [next] = await store.appendMessages([msg(ann, bob, 'after reopen')]);
        expect(next.message.sequence).to.equal(2);
        expect(next.message.id).to.be.greaterThan(stored[1].message.id);
      });
    });

    roomContract(
      () => fixture,
      (reopened) => (store = reopened),
    );
  });
}

