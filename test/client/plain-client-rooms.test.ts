import { expect } from 'chai';
import { join } from 'node:path';
import { withShownRoom } from '../../src/client/room-line';
import { runPlainInMemory, type RunningPlainClient } from '../support/plain-run';
import { eventually } from '../support/eventually';
import { startTestServer, type TestServer } from '../support/test-server';
import { makeTempDir, removeTempDir } from '../support/temp-dir';

type Running = RunningPlainClient;

/** The documented form of a room line: `[HH:MM:SS] #room sender: body` or `[HH:MM:SS] #room -- …`. */
const ROOM_LINE = /^\[\d\d:\d\d:\d\d\] (#[A-Za-z0-9_.-]{1,32}) (.*)$/;

function roomLines(text: string): string[] {
  return text.split('\n').flatMap((line) => {
    const match = ROOM_LINE.exec(line);
    return match ? [`${match[1]} ${match[2]}`] : [];
  });
}

describe('the line client in rooms', function () {
  let server: TestServer;
  let tempDir: string;
  let clients: Running[];

  beforeEach(async () => {
    tempDir = makeTempDir('tinychat-plain-rooms-', 'suite');
    server = await startTestServer({ dbPath: join(tempDir, 'chat.db') });
    clients = [];
  });

  afterEach(async () => {
    for (const client of clients) client.end();
    await Promise.all(clients.map((c) => c.exit));
    await server.stop();
    removeTempDir(tempDir);
  });

  function run(user: string): Running {
    const client = runPlainInMemory(server.target, user);
    clients.push(client);
    return client;
  }

  it('sends lines after /JOIN to the room and prints every room entry once, as "[HH:MM:SS] #room sender: body"', async () => {
    const alice = run('alice');
    alice.type('/JOIN #general');
    await eventually('alice joined', () => alice.out().includes('joined #general'));
    const bob = run('bob');
    bob.type('/JOIN #general');
    await eventually('bob joined', () => bob.out().includes('joined #general'));
    const carol = run('carol');
    carol.type('/JOIN #general');
    await eventually('carol joined', () => roomLines(alice.out()).includes('#general -- carol joined'));
    alice.type('hello room');
    await eventually('alice’s line at carol', () => roomLines(carol.out()).includes('#general alice: hello room'));
    bob.type('hi @carol');
    await eventually('bob’s line everywhere', () => [alice, carol].every((c) => roomLines(c.out()).includes('#general bob: hi @carol')));
    const expected = ['#general -- carol joined', '#general alice: hello room', '#general bob: hi @carol'];
    expect(roomLines(carol.out())).to.deep.equal(expected);
    expect(roomLines(bob.out())).to.deep.equal(['#general -- bob joined', ...expected]);
    expect(roomLines(alice.out())).to.deep.equal(['#general -- alice joined', '#general -- bob joined', ...expected]);
    for (const client of [alice, bob, carol]) {
      client.end();
      expect(await client.exit).to.equal(0);
    }
  });

  it('keeps three people in one room through a server restart: the same conversation, nothing missing or doubled', async () => {
    const people = ['alice', 'bob', 'carol'].map((name) => run(name));
    for (const [i, person] of people.entries()) {
      person.type('/JOIN #general');
      await eventually(`${i} joined`, () => person.out().includes('joined #general'));
    }
    const [alice, bob, carol] = people;
    alice.type('before the restart');
    bob.type('@carol are you there?');
    await eventually('both lines everywhere', () => people.every((p) => roomLines(p.out()).includes('#general bob: @carol are you there?') && roomLines(p.out()).includes('#general alice: before the restart')));
    await server.stop();
    server = await startTestServer({ dbPath: join(tempDir, 'chat.db'), port: server.port });
    carol.type('yes, after the restart');
    alice.type('all back');
    await eventually('the lines after the restart everywhere', () =>
      people.every((p) => roomLines(p.out()).includes('#general carol: yes, after the restart') && roomLines(p.out()).includes('#general alice: all back')),
    );
    const messagesOf = (p: Running) => roomLines(p.out()).filter((line) => !line.includes(' -- '));
    expect(messagesOf(bob)).to.deep.equal(messagesOf(alice));
    expect(messagesOf(carol)).to.deep.equal(messagesOf(alice));
    expect(messagesOf(alice)).to.have.length(4);
    for (const person of people) {
      person.end();
      expect(await person.exit).to.equal(0);
    }
  });

  it('fills in the room shown for /LEAVE, /TOPIC and /MEMBERS, switches rooms with /JOIN, and says where a line cannot go', async () => {
    const alice = run('alice');
    alice.type('/JOIN #one', '/JOIN #two', '/TOPIC ship it', '/MEMBERS');
    await eventually('the topic and members', () => alice.out().includes('topic of #two: ship it') && alice.out().includes('#two: 1 member, 1 online'));
    alice.type('/JOIN #one', 'in one');
    await eventually('the line in #one', () => roomLines(alice.out()).includes('#one alice: in one'));
    expect(alice.out()).to.include('you are already in #one');
    alice.type('/LEAVE', 'nowhere to go');
    await eventually('the leave and the complaint', () => alice.err().includes('no conversation open'));
    expect(roomLines(alice.out())).to.include('#one -- alice left');
    expect(alice.out()).to.include('left #one');
    alice.end();
    expect(await alice.exit).to.equal(0);
  });
});

describe('withShownRoom', function () {
  it('puts the room shown into room commands typed without one', function () {
    expect(withShownRoom('/LEAVE', '#dev')).to.equal('/LEAVE #dev');
    expect(withShownRoom('/topic ship it friday', '#dev')).to.equal('/topic #dev ship it friday');
    expect(withShownRoom('/KICK bob', '#dev')).to.equal('/KICK #dev bob');
    expect(withShownRoom('/INVITE bob', '#dev')).to.equal('/INVITE #dev bob');
  });

  it('leaves lines that name a room, other commands, and lines typed in a one-to-one conversation as they are', function () {
    expect(withShownRoom('/LEAVE #other', '#dev')).to.equal('/LEAVE #other');
    expect(withShownRoom('/USERS', '#dev')).to.equal('/USERS');
    expect(withShownRoom('/LEAVE', 'bob')).to.equal('/LEAVE');
    expect(withShownRoom('/LEAVE', undefined)).to.equal('/LEAVE');
  });
});
