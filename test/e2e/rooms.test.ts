import { expect } from 'chai';
import { expectStatus } from '../support/expect-status';
import { status } from '@grpc/grpc-js';
import { RoomEvent, type Message } from '../../src/gen/tinychat/v1/chat';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { WireClients, type WireClient, type WireStream } from '../support/grpc-client';

/** A room entry as one line: what it is and who it is from, for comparing timelines. */
function entry(m: Message): string {
  const event = m.roomEvent === RoomEvent.ROOM_EVENT_UNSPECIFIED ? '' : `${RoomEvent[m.roomEvent].replace('ROOM_EVENT_', '').toLowerCase()} `;
  return `${m.room} ${event}${m.sender}${m.body ? `: ${m.body}` : ''}`;
}

describe('rooms', () => {
  let server: TestServer;
  const wire = new WireClients(() => server.target);
  const user = (name: string) => wire.user(name);
  const open = (client: WireClient, afterSequence?: number) => wire.open(client, afterSequence);


  const ready = (s: WireStream) => s.until('ready', (x) => x.frames.length > 0);
  const roomMessages = (s: WireStream) => s.messages.filter((m) => m.room !== '');

  async function start(options: Parameters<typeof startTestServer>[0] = {}) {
    server = await startTestServer(options);
  }

  afterEach(async () => {
    wire.cancelStreams();
    await server.stop();
    wire.closeClients();
    removeTempDirs();
  });

  describe('with default limits', () => {
    beforeEach(() => start());

    it('delivers each message to three members exactly once, in one order, with the joins in their place', async () => {
      const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map(user));
      const joined = await alice.command('/JOIN #general');
      expect(joined.result).to.deep.include({ $case: 'roomJoined' });
      if (joined.result?.$case !== 'roomJoined') throw new Error(joined.text);
      expect(joined.result.roomJoined).to.deep.include({ created: true });
      expect(joined.result.roomJoined.room).to.deep.include({ name: '#general', owner: 'alice', memberCount: 1, private: false });
      await bob.command('/JOIN #General');
      await carol.command('/join #GENERAL');
      const streams = [open(alice), open(bob), open(carol)];
      await Promise.all(streams.map(ready));
      streams[0].send('#general', 'hello all', 'a1');
      streams[1].send('#general', 'hi alice', 'b1');
      streams[2].send('#general', 'hey @bob', 'c1');
      await Promise.all(streams.map((s) => s.until('three messages', (x) => roomMessages(x).filter((m) => m.body).length === 3)));
      const timelines = streams.map((s) => roomMessages(s).map(entry));
      // Each sees the room from their own join on, then the same messages in the same order.
      expect(timelines[1]).to.deep.equal(timelines[0].slice(1));
      expect(timelines[2]).to.deep.equal(timelines[0].slice(2));
      expect(timelines[0].slice(0, 3)).to.deep.equal(['#general joined alice', '#general joined bob', '#general joined carol']);
      expect(timelines[0].slice(3).sort()).to.deep.equal(['#general alice: hello all', '#general bob: hi alice', '#general carol: hey @bob']);
      // Bob joined second: his inbox starts at his own join.
      expect(roomMessages(streams[1]).map((m) => m.sequence)).to.deep.equal([1, 2, 3, 4, 5]);
      for (const s of streams) expect(s.messages.every((m) => m.receiver === s.messages[0].receiver)).to.equal(true);
      const receipt = streams[0].receipts.find((r) => r.clientId === 'a1')!;
      const own = roomMessages(streams[0]).find((m) => m.body === 'hello all')!;
      expect(receipt).to.deep.include({ receiver: '#general', id: own.id, sequence: own.sequence, duplicate: false });
    });

    it('holds room messages for an offline member and resumes by sequence', async () => {
      const alice = await user('alice');
      const bob = await user('bob');
      await alice.command('/JOIN #dev');
      await bob.command('/JOIN #dev');
      const a = open(alice);
      for (let i = 1; i <= 4; i++) a.send('#dev', `note ${i}`, `n${i}`);
      await a.until('receipts', (s) => s.receipts.length === 4);
      const b = open(bob);
      await b.until('the backlog', (s) => s.messages.length === 5);
      expect(b.messages.map(entry)).to.deep.equal(['#dev joined bob', '#dev alice: note 1', '#dev alice: note 2', '#dev alice: note 3', '#dev alice: note 4']);
      expect(b.messages.map((m) => m.sequence)).to.deep.equal([1, 2, 3, 4, 5]);
      b.cancel();
      const again = open(bob, 3);
      await again.until('the rest', (s) => s.messages.length === 2);
      expect(again.messages.map((m) => [m.sequence, m.body])).to.deep.equal([
        [4, 'note 3'],
        [5, 'note 4'],
      ]);
    });

    it('stores a retried room message once and answers the retry with the original receipt', async () => {
      const alice = await user('alice');
      const bob = await user('bob');
      await alice.command('/JOIN #dev');
      await bob.command('/JOIN #dev');
      const a = open(alice);
      const b = open(bob);
      await ready(b);
      a.send('#dev', 'once', 'same-id');
      a.send('#dev', 'once', 'same-id');
      await a.until('two receipts', (s) => s.receipts.length === 2);
      expect(a.receipts.map((r) => r.duplicate)).to.deep.equal([false, true]);
      expect(a.receipts[1].id).to.equal(a.receipts[0].id);
      a.send('#dev', 'after', 'next-id');
      await b.until('the next message', (s) => s.messages.some((m) => m.body === 'after'));
      expect(b.messages.filter((m) => m.body === 'once')).to.have.length(1);
    });

    it('refuses a file message to a room with FAILED_PRECONDITION, storing nothing, rather than keep it without its file', async () => {
      const alice = await user('alice');
      const bob = await user('bob');
      await alice.command('/JOIN #dev');
      await bob.command('/JOIN #dev');
      const a = open(alice);
      const b = open(bob);
      await ready(b);
      const file = { name: 'notes.txt', size: 5, sha256: 'a'.repeat(64), mediaType: 'text/plain' };
      a.write({ kind: { $case: 'send', send: { clientId: 'file-1', receiver: '#dev', body: 'notes.txt', kind: 0, file } } });
      await a.until('the refusal', (s) => s.errors.length === 1);
      expect(a.errors[0]).to.deep.include({ code: status.FAILED_PRECONDITION, clientId: 'file-1' });
      expect(a.errors[0].message).to.contain('/SEND');
      a.send('#dev', 'text still goes', 'text-1');
      await b.until('the text', (s) => s.messages.some((m) => m.body === 'text still goes'));
      expect(roomMessages(b).map((m) => m.body)).to.not.include('notes.txt');
    });

    it('keeps a private room to the invited: NOT_FOUND for others, PERMISSION_DENIED for the invited before they join', async () => {
      const alice = await user('alice');
      const bob = await user('bob');
      const eve = await user('eve');
      await alice.command('/JOIN #ops private');
      expect((await expectStatus(eve.command('/JOIN #ops'), status.NOT_FOUND)).details).to.contain('/INVITE');
      await expectStatus(eve.command('/HISTORY #ops'), status.NOT_FOUND);
      await expectStatus(eve.command('/MEMBERS #ops'), status.NOT_FOUND);
      const rooms = await eve.command('/ROOMS');
      expect(rooms.text).to.not.contain('#ops');
      const e = open(eve);
      e.send('#ops', 'let me in', 'e1');
      await e.until('the refusal', (s) => s.errors.length === 1);
      expect(e.errors[0]).to.deep.include({ code: status.NOT_FOUND, clientId: 'e1' });

      const invited = await alice.command('/INVITE #ops bob');
      expect(invited.result).to.deep.equal({ $case: 'roomChanged', roomChanged: { room: '#ops', event: RoomEvent.ROOM_EVENT_INVITED, user: 'bob', topic: '' } });
      const b = open(bob);
      b.send('#ops', 'before joining', 'b1');
      await b.until('the refusal', (s) => s.errors.length === 1);
      expect(b.errors[0]).to.deep.include({ code: status.PERMISSION_DENIED, clientId: 'b1' });
      await bob.command('/JOIN #ops');
      b.send('#ops', 'in now', 'b2');
      await b.until('the receipt', (s) => s.receipts.length === 1);
      expect(e.messages).to.have.length(0);
    });

    it('refuses non-members of a public room with PERMISSION_DENIED', async () => {
      const alice = await user('alice');
      const mallory = await user('mallory');
      await alice.command('/JOIN #dev');
      const m = open(mallory);
      m.send('#dev', 'spam', 'm1');
      await m.until('the refusal', (s) => s.errors.length === 1);
      expect(m.errors[0].code).to.equal(status.PERMISSION_DENIED);
      expect(m.errors[0].message).to.contain('/JOIN #dev');
      await expectStatus(mallory.command('/HISTORY #dev'), status.PERMISSION_DENIED);
      await expectStatus(mallory.command('/MEMBERS #dev'), status.PERMISSION_DENIED);
      await expectStatus(mallory.command('/TOPIC #dev mine now'), status.PERMISSION_DENIED);
      await expectStatus(mallory.command('/INVITE #dev mallory'), status.PERMISSION_DENIED);
      await expectStatus(mallory.command('/LEAVE #dev'), status.PERMISSION_DENIED);
      await expectStatus(mallory.command('/JOIN #nowhere extra'), status.INVALID_ARGUMENT);
      await expectStatus(mallory.command('/JOIN general'), status.INVALID_ARGUMENT);
      await expectStatus(mallory.command(`/JOIN #${'x'.repeat(33)}`), status.INVALID_ARGUMENT);
      await expectStatus(mallory.command('/HISTORY #nowhere'), status.NOT_FOUND);
    });

    it('lets only the owner kick; a kicked or departed member stops receiving and cannot post', async () => {
      const alice = await user('alice');
      const bob = await user('bob');
      const carol = await user('carol');
      for (const c of [alice, bob, carol]) await c.command('/JOIN #dev');
      await expectStatus(bob.command('/KICK #dev carol'), status.PERMISSION_DENIED);
      const a = open(alice);
      const b = open(bob);
      const c = open(carol);
      await Promise.all([a, b, c].map(ready));
      const kicked = await alice.command('/KICK #dev bob');
      expect(kicked.text).to.equal('bob was removed from #dev');
      await carol.command('/LEAVE #dev');
      a.send('#dev', 'just me now', 'a1');
      await a.until('the message', (s) => s.messages.some((m) => m.body === 'just me now'));
      expect(b.messages.map(entry).slice(-1)).to.deep.equal(['#dev kicked alice: bob']);
      expect(c.messages.map(entry).slice(-1)).to.deep.equal(['#dev left carol']);
      b.send('#dev', 'still here?', 'b1');
      await b.until('the refusal', (s) => s.errors.length === 1);
      expect(b.errors[0].code).to.equal(status.PERMISSION_DENIED);
      const members = await alice.command('/MEMBERS #dev');
      expect(members.result).to.deep.equal({ $case: 'roomMembers', roomMembers: { room: '#dev', members: [{ name: 'alice', online: true, owner: true }] } });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(b.messages.some((m) => m.body === 'just me now')).to.equal(false);
      expect(c.messages.some((m) => m.body === 'just me now')).to.equal(false);
    });

    it('shows a newcomer the room from their join on, in /HISTORY too', async () => {
      const alice = await user('alice');
      const bob = await user('bob');
      await alice.command('/JOIN #dev');
      const a = open(alice);
      a.send('#dev', 'said before bob came', 'a1');
      await a.until('the receipt', (s) => s.receipts.length === 1);
      await bob.command('/JOIN #dev');
      a.send('#dev', 'welcome bob', 'a2');
      await a.until('the receipt', (s) => s.receipts.length === 2);
      const history = await bob.command('/HISTORY #dev');
      if (history.result?.$case !== 'roomHistory') throw new Error(history.text);
      expect(history.result.roomHistory.messages.map(entry)).to.deep.equal(['#dev joined bob', '#dev alice: welcome bob']);
      expect(history.text).to.not.contain('said before bob came');
      const alices = await alice.command('/HISTORY #dev 2');
      if (alices.result?.$case !== 'roomHistory') throw new Error(alices.text);
      expect(alices.result.roomHistory.hasMore).to.equal(true);
      const older = await alice.command(`/HISTORY #dev 2 ${alices.result.roomHistory.nextBeforeId}`);
      expect(older.text).to.contain('said before bob came');
    });

    it('lists rooms with member counts, sets the topic for every member to see', async () => {
      const alice = await user('alice');
      const bob = await user('bob');
      await alice.command('/JOIN #dev');
      await bob.command('/JOIN #dev');
      await bob.command('/JOIN #random');
      const b = open(bob);
      await ready(b);
      const topic = await alice.command('/TOPIC #dev release on friday');
      expect(topic.text).to.equal('topic of #dev: release on friday');
      await b.until('the topic', (s) => s.messages.some((m) => m.roomEvent === RoomEvent.ROOM_EVENT_TOPIC));
      expect(b.messages.map(entry).at(-1)).to.equal('#dev topic alice: release on friday');
      const rooms = await alice.command('/ROOMS');
      if (rooms.result?.$case !== 'rooms') throw new Error(rooms.text);
      expect(rooms.result.rooms.rooms.map((r) => [r.name, r.memberCount, r.member, r.topic])).to.deep.equal([
        ['#dev', 2, true, 'release on friday'],
        ['#random', 1, false, ''],
      ]);
      const help = await alice.command('/COMMANDS');
      for (const name of ['/JOIN', '/LEAVE', '/ROOMS', '/MEMBERS', '/TOPIC', '/INVITE', '/KICK']) expect(help.text).to.contain(name);
    });
  });

  describe('with small limits', () => {
    beforeEach(() => start({ limits: { rooms: { maxMembers: 2, maxRooms: 2, postRate: { perSecond: 1, burst: 2 } } } }));

    it('refuses a join over the member and rooms-per-user limits, and posts over the room rate, with RESOURCE_EXHAUSTED', async () => {
      const alice = await user('alice');
      const bob = await user('bob');
      const carol = await user('carol');
      await alice.command('/JOIN #a');
      await bob.command('/JOIN #a');
      expect((await expectStatus(carol.command('/JOIN #a'), status.RESOURCE_EXHAUSTED)).details).to.contain('full (2 members)');
      await alice.command('/JOIN #b');
      expect((await expectStatus(alice.command('/JOIN #c'), status.RESOURCE_EXHAUSTED)).details).to.contain('/LEAVE');
      const a = open(alice);
      for (let i = 1; i <= 3; i++) a.send('#a', `m${i}`, `m${i}`);
      await a.until('answers', (s) => s.receipts.length + s.errors.length === 3);
      expect(a.receipts).to.have.length(2);
      expect(a.errors[0].code).to.equal(status.RESOURCE_EXHAUSTED);
      expect(a.errors[0].retryAfterMs).to.be.greaterThan(0);
    });
  });
});
