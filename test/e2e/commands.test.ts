import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { MessageKind, type CommandRequest, type CommandResponse, type Message } from '../../src/gen/tinychat/v1/chat';
import { TEST_PASSWORD, WireClient, type WireStream } from '../support/grpc-client';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { expectStatus } from '../support/expect-status';

/** Every command, in the order /COMMANDS lists them. */
const ALL_COMMANDS = [
  '/LOGIN',
  '/USERS',
  '/TIME',
  '/START',
  '/STOP',
  '/HISTORY',
  '/SEARCH',
  '/JOIN',
  '/LEAVE',
  '/ROOMS',
  '/MEMBERS',
  '/TOPIC',
  '/INVITE',
  '/KICK',
  '/FILES',
  '/COMMANDS',
  '/PASSWORD',
  '/QUIT',
];

/** Commands that need a session, each with arguments that would otherwise be valid. */
const SESSION_COMMANDS = ['/USERS', '/TIME', '/START bob', '/STOP', '/HISTORY bob', '/SEARCH word', '/PASSWORD old-password new-password', '/QUIT'];

describe('every command against a real server', function () {
  let server: TestServer;
  let clients: WireClient[];
  let streams: WireStream[];

  beforeEach(async function () {
    server = await startTestServer();
    clients = [];
    streams = [];
  });

  afterEach(async function () {
    for (const stream of streams) if (stream.status === undefined) stream.cancel();
    await Promise.all(streams.map((stream) => stream.ended()));
    for (const client of clients) client.close();
    await server.stop();
    removeTempDirs();
  });

  function connect(): WireClient {
    const client = new WireClient(server.target);
    clients.push(client);
    return client;
  }

  async function loggedIn(name: string): Promise<WireClient> {
    const client = connect();
    await client.login(name);
    return client;
  }

  /** Opens a Converse stream, starts delivery and waits for the greeting. */
  async function openStream(client: WireClient, token = client.token): Promise<WireStream> {
    const stream = client.converse(token);
    streams.push(stream);
    stream.resume(0);
    await stream.until('the ready frame', (s) => s.frames.some((f) => f.ready !== undefined));
    return stream;
  }

  /** Sends `bodies` from `stream` to `receiver` and waits until each is stored. */
  async function sendAll(stream: WireStream, receiver: string, bodies: string[], prefix: string): Promise<void> {
    const before = stream.receipts.length;
    bodies.forEach((body, i) => stream.send(receiver, body, `${prefix}-${i}`));
    await stream.until(`${bodies.length} receipts`, (s) => s.receipts.length >= before + bodies.length);
  }

  /** Sends a raw CommandRequest with the given metadata. */
  function request(client: WireClient, req: CommandRequest, metadata = client.metadata()): Promise<CommandResponse> {
    return new Promise((resolve, reject) =>
      client.client.command(req, metadata, (err, response) => (err ? reject(err) : resolve(response!))),
    );
  }

  function loginResult(response: CommandResponse) {
    if (response.result?.$case !== 'login') throw new Error(`not a login result: ${response.text}`);
    return response.result.login;
  }

  function usersResult(response: CommandResponse) {
    if (response.result?.$case !== 'users') throw new Error(`not a users result: ${response.text}`);
    return response.result.users.users;
  }

  function conversationResult(response: CommandResponse) {
    if (response.result?.$case !== 'conversation') throw new Error(`not a conversation result: ${response.text}`);
    return response.result.conversation;
  }

  function historyResult(response: CommandResponse) {
    if (response.result?.$case !== 'history') throw new Error(`not a history result: ${response.text}`);
    return response.result.history;
  }

  function searchResult(response: CommandResponse) {
    if (response.result?.$case !== 'search') throw new Error(`not a search result: ${response.text}`);
    return response.result.search;
  }

  function commandsResult(response: CommandResponse) {
    if (response.result?.$case !== 'commands') throw new Error(`not a commands result: ${response.text}`);
    return response.result.commands.commands;
  }

  const bodies = (messages: Message[]) => messages.map((m) => m.body);

  describe('/LOGIN', function () {
    it('registers a name on its first use and welcomes it back, in its first spelling, on the next', async function () {
      const first = loginResult(await connect().command(`/LOGIN Alice ${TEST_PASSWORD}`, undefined));
      expect(first).to.include({ user: 'Alice', registered: true });
      expect(first.token).to.be.a('string').that.is.not.empty;
      expect(first.expires!.getTime()).to.be.greaterThan(Date.now());

      const again = await connect().command(`/LOGIN alice ${TEST_PASSWORD}`, undefined);
      expect(loginResult(again)).to.include({ user: 'Alice', registered: false });
      expect(loginResult(again).token).to.not.equal(first.token);
      expect(again.text).to.contain('Alice');
    });

    it('returns a token that authorizes later calls', async function () {
      const alice = connect();
      const token = await alice.login('alice');
      const users = usersResult(await alice.command('/USERS', token));
      expect(users.map((u) => u.name)).to.deep.equal(['alice']);
    });

    it('accepts a name of exactly 32 characters', async function () {
      const name = 'a'.repeat(32);
      expect(loginResult(await connect().command(`/LOGIN ${name} ${TEST_PASSWORD}`, undefined)).user).to.equal(name);
    });

    it('answers INVALID_ARGUMENT with the usage when the name is missing', async function () {
      const err = await expectStatus(connect().command('/LOGIN', undefined), status.INVALID_ARGUMENT);
      expect(err.details).to.contain('usage: /LOGIN <name> <password>');
    });

    it('refuses a name longer than 32 characters, saying the limit', async function () {
      const err = await expectStatus(connect().command(`/LOGIN ${'a'.repeat(33)} ${TEST_PASSWORD}`, undefined), status.INVALID_ARGUMENT);
      expect(err.details).to.match(/at most 32 characters/);
    });

    it('refuses names with spaces, punctuation or letters outside ASCII, saying which characters are allowed', async function () {
      const client = connect();
      for (const name of ['bad name!', 'bad!', 'zoë', 'ünïcödé', '名前']) {
        const err = await expectStatus(
          request(client, { loginOnly: false, input: { $case: 'invocation', invocation: { name: 'LOGIN', args: [name, TEST_PASSWORD] } } }),
          status.INVALID_ARGUMENT,
        );
        expect(err.details, name).to.contain('not a valid user name').and.to.contain('letters, digits');
      }
    });

    it('refuses an empty name given through an invocation', async function () {
      const err = await expectStatus(
        request(connect(), { loginOnly: false, input: { $case: 'invocation', invocation: { name: 'login', args: ['', TEST_PASSWORD] } } }),
        status.INVALID_ARGUMENT,
      );
      expect(err.details).to.contain('user name is required');
    });

    it('reads the rest of a typed "/LOGIN name ..." line as the password, spaces included', async function () {
      const first = loginResult(await connect().command('/LOGIN dora my pass phrase', undefined));
      expect(first).to.include({ user: 'dora', registered: true });
      const again = loginResult(await connect().command('/LOGIN dora   my pass phrase  ', undefined));
      expect(again.registered).to.equal(false);
      const err = await expectStatus(connect().command('/LOGIN dora my  pass phrase', undefined), status.UNAUTHENTICATED);
      expect(err.details).to.contain('wrong name or password');
    });

    it('asks for a password when /LOGIN has only a name', async function () {
      const err = await expectStatus(connect().command('/LOGIN erin', undefined), status.INVALID_ARGUMENT);
      expect(err.details).to.contain('a password is required').and.to.contain('/LOGIN erin <password>');
    });
  });

  it('treats command names case-insensitively', async function () {
    const alice = await loggedIn('alice');
    for (const line of ['/users', '/Users', '/USERS', '/uSeRs']) {
      expect(usersResult(await alice.command(line)).map((u) => u.name), line).to.deep.equal(['alice']);
    }
    expect((await alice.command('/time')).result?.$case).to.equal('time');
  });

  describe('/USERS', function () {
    it('lists every user ever seen, sorted, online only while a Converse stream is open', async function () {
      const loginStart = Date.now();
      const carol = await loggedIn('carol');
      const alice = await loggedIn('alice');
      const bob = await loggedIn('Bob');
      const loginEnd = Date.now();
      const bobStream = await openStream(bob);

      const whileOpen = await alice.command('/USERS');
      const users = usersResult(whileOpen);
      expect(users.map((u) => [u.name, u.online])).to.deep.equal([
        ['alice', false],
        ['Bob', true],
        ['carol', false],
      ]);
      for (const user of users) {
        if (user.online) {
          expect(Math.abs(user.lastSeen!.getTime() - Date.now())).to.be.lessThan(5000);
        } else {
          expect(user.lastSeen!.getTime()).to.be.within(loginStart, loginEnd);
        }
      }
      const rows = whileOpen.text.split('\n');
      expect(rows[0]).to.match(/^USER\s+STATUS\s+LAST SEEN$/);
      expect(rows.slice(1)).to.have.length(3);
      expect(rows[1]).to.match(/^alice\s+offline\s+last seen \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      expect(rows[2]).to.match(/^Bob\s+online\s+now$/);
      expect(rows[3]).to.match(/^carol\s+offline\s+last seen/);

      const streamEndedAfter = Date.now();
      expect((await bobStream.finish()).code).to.equal(status.OK);
      const afterClose = usersResult(await carol.command('/USERS'));
      const bobAfter = afterClose.find((u) => u.name === 'Bob')!;
      expect(bobAfter.online).to.equal(false);
      expect(bobAfter.lastSeen!.getTime()).to.be.at.least(streamEndedAfter);
    });

    it('keeps a user online while any of their streams is open', async function () {
      const alice = await loggedIn('alice');
      const first = await openStream(alice);
      const second = await openStream(alice);
      await first.finish();
      expect(usersResult(await alice.command('/USERS'))[0]).to.include({ name: 'alice', online: true });
      await second.finish();
      expect(usersResult(await alice.command('/USERS'))[0]).to.include({ name: 'alice', online: false });
    });
  });

  it('/TIME returns the server clock, close to now, as a timestamp and as text', async function () {
    const alice = await loggedIn('alice');
    const before = Date.now();
    const response = await alice.command('/TIME');
    const after = Date.now();
    if (response.result?.$case !== 'time') throw new Error(`not a time result: ${response.text}`);
    const time = response.result.time.time!;
    expect(time.getTime()).to.be.within(before - 1000, after + 1000);
    expect(response.text).to.contain(time.toISOString());
  });

  describe('/START and /STOP', function () {
    it('/START shows the recent messages oldest first and makes an empty receiver mean that peer', async function () {
      const alice = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const aliceStream = await openStream(alice);
      const bobStream = await openStream(bob);
      await sendAll(aliceStream, 'bob', ['one', 'two'], 'a');
      await sendAll(bobStream, 'alice', ['three'], 'b');
      await sendAll(aliceStream, 'bob', ['four'], 'a2');

      const response = await alice.command('/START BOB');
      const conversation = conversationResult(response);
      expect(conversation.peer).to.equal('bob');
      expect(conversation.hasMore).to.equal(false);
      expect(bodies(conversation.recent)).to.deep.equal(['one', 'two', 'three', 'four']);
      const ids = conversation.recent.map((m) => m.id);
      expect(ids).to.deep.equal([...ids].sort((x, y) => x - y));
      expect(response.text).to.contain('conversation with bob open');
      expect(response.text.indexOf('one')).to.be.lessThan(response.text.indexOf('four'));

      aliceStream.send('', 'to whoever is open', 'empty-receiver');
      await aliceStream.until('the receipt', (s) => s.receipts.some((r) => r.clientId === 'empty-receiver'));
      expect(aliceStream.receipts.find((r) => r.clientId === 'empty-receiver')!.receiver).to.equal('bob');
      await bobStream.until('the message', (s) => s.messages.some((m) => m.body === 'to whoever is open'));
      expect(bobStream.messages.find((m) => m.body === 'to whoever is open')).to.include({ sender: 'alice', receiver: 'bob' });
    });

    it('/START shows only the newest 20 messages and says older ones exist', async function () {
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      const aliceStream = await openStream(alice);
      const sent = Array.from({ length: 22 }, (_, i) => `m${i + 1}`);
      await sendAll(aliceStream, 'bob', sent, 'm');

      const response = await alice.command('/START bob');
      const conversation = conversationResult(response);
      expect(conversation.hasMore).to.equal(true);
      expect(bodies(conversation.recent)).to.deep.equal(sent.slice(2));
      expect(response.text).to.contain(`/HISTORY bob 20 ${conversation.recent[0].id}`);
    });

    it('/START of an unknown user answers NOT_FOUND pointing at /USERS', async function () {
      const alice = await loggedIn('alice');
      const err = await expectStatus(alice.command('/START nobody'), status.NOT_FOUND);
      expect(err.details).to.contain('nobody').and.to.contain('/USERS');
    });

    it('/START without a name answers INVALID_ARGUMENT with the usage', async function () {
      const alice = await loggedIn('alice');
      const err = await expectStatus(alice.command('/START'), status.INVALID_ARGUMENT);
      expect(err.details).to.contain('usage: /START <name>');
    });

    it('/STOP closes the conversation, after which an empty receiver is refused on that frame only', async function () {
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      const aliceStream = await openStream(alice);
      await alice.command('/START bob');

      const stopped = await alice.command('/STOP');
      expect(stopped.result).to.deep.equal({ $case: 'stopped', stopped: { peer: 'bob' } });
      expect(stopped.text).to.contain('bob');

      aliceStream.send('', 'nowhere to go', 'no-peer');
      await aliceStream.until('the frame error', (s) => s.errors.length > 0);
      expect(aliceStream.errors).to.have.length(1);
      expect(aliceStream.errors[0]).to.include({ code: status.FAILED_PRECONDITION, clientId: 'no-peer' });
      expect(aliceStream.errors[0].message).to.contain('/START');

      aliceStream.send('bob', 'named receiver still works', 'named');
      await aliceStream.until('the receipt', (s) => s.receipts.some((r) => r.clientId === 'named'));
      expect(aliceStream.status).to.equal(undefined);
    });

    it('/STOP with no conversation open answers FAILED_PRECONDITION pointing at /START', async function () {
      const alice = await loggedIn('alice');
      const err = await expectStatus(alice.command('/STOP'), status.FAILED_PRECONDITION);
      expect(err.details).to.contain('/START');
    });

    it('keeps the open conversation per session, not per user', async function () {
      const aliceOne = await loggedIn('alice');
      const aliceTwo = await loggedIn('alice');
      await loggedIn('bob');
      await aliceOne.command('/START bob');
      await expectStatus(aliceTwo.command('/STOP'), status.FAILED_PRECONDITION);
      expect((await aliceOne.command('/STOP')).result?.$case).to.equal('stopped');
    });
  });

  describe('/HISTORY', function () {
    it('pages back through 25 messages with count, before-id, hasMore and nextBeforeId', async function () {
      const alice = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const aliceStream = await openStream(alice);
      const bobStream = await openStream(bob);
      const sent: string[] = [];
      for (let i = 1; i <= 25; i++) {
        const body = `h${i}`;
        sent.push(body);
        await sendAll(i % 3 === 0 ? bobStream : aliceStream, i % 3 === 0 ? 'alice' : 'bob', [body], `h${i}`);
      }

      const pages: string[][] = [];
      let beforeId: number | undefined;
      for (;;) {
        const line = beforeId === undefined ? '/HISTORY bob 10' : `/HISTORY bob 10 ${beforeId}`;
        const response = await alice.command(line);
        const page = historyResult(response);
        expect(page.peer).to.equal('bob');
        pages.unshift(bodies(page.messages));
        if (!page.hasMore) {
          expect(page.nextBeforeId).to.equal(0);
          break;
        }
        expect(page.nextBeforeId).to.equal(page.messages[0].id);
        expect(response.text).to.contain(`/HISTORY bob 10 ${page.nextBeforeId}`);
        beforeId = page.nextBeforeId;
      }
      expect(pages.map((page) => page.length)).to.deep.equal([5, 10, 10]);
      expect(pages.flat()).to.deep.equal(sent);

      const defaultPage = historyResult(await bob.command('/HISTORY Alice'));
      expect(defaultPage.peer).to.equal('alice');
      expect(bodies(defaultPage.messages)).to.deep.equal(sent.slice(5));
      expect(defaultPage.hasMore).to.equal(true);
    });

    it('says so when a conversation has no messages', async function () {
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      const response = await alice.command('/HISTORY bob');
      expect(historyResult(response)).to.deep.include({ messages: [], hasMore: false, nextBeforeId: 0 });
      expect(response.text).to.contain('no messages with bob');
    });

    it('refuses a count that is zero, over 200 or not a number', async function () {
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      for (const count of ['0', '201', 'x', '-1', '1.5']) {
        const err = await expectStatus(alice.command(`/HISTORY bob ${count}`), status.INVALID_ARGUMENT);
        expect(err.details, count).to.contain('count');
      }
      expect((await expectStatus(alice.command('/HISTORY bob 201'), status.INVALID_ARGUMENT)).details).to.contain('at most 200');
      expect(historyResult(await alice.command('/HISTORY bob 200')).messages).to.deep.equal([]);
    });

    it('refuses a before-id that is not a positive whole number', async function () {
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      for (const beforeId of ['0', 'abc', '-5', '12x', '9'.repeat(20)]) {
        const err = await expectStatus(alice.command(`/HISTORY bob 5 ${beforeId}`), status.INVALID_ARGUMENT);
        expect(err.details, beforeId).to.contain('before-id');
      }
    });

    it('answers NOT_FOUND for an unknown user and INVALID_ARGUMENT with the usage without one', async function () {
      const alice = await loggedIn('alice');
      expect((await expectStatus(alice.command('/HISTORY nobody'), status.NOT_FOUND)).details).to.contain('/USERS');
      expect((await expectStatus(alice.command('/HISTORY'), status.INVALID_ARGUMENT)).details).to.contain(
        'usage: /HISTORY <name|#room> [count] [before-id]',
      );
    });
  });

  describe('/SEARCH', function () {
    it('finds the messages of every conversation of yours that hold all the words, newest first, naming the other person and the id', async function () {
      const alice = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const carol = await loggedIn('carol');
      const aliceStream = await openStream(alice);
      const bobStream = await openStream(bob);
      const carolStream = await openStream(carol);
      await sendAll(aliceStream, 'bob', ['the Release notes are ready', 'lunch?'], 'a');
      await sendAll(bobStream, 'alice', ['release notes reviewed'], 'b');
      await sendAll(carolStream, 'alice', ['notes on the release'], 'c');
      await sendAll(carolStream, 'bob', ['release notes for bob only'], 'd');

      const response = await alice.command('/SEARCH release NOTES');
      const result = searchResult(response);
      expect(result.words).to.deep.equal(['release', 'NOTES']);
      expect(bodies(result.messages)).to.deep.equal(['notes on the release', 'release notes reviewed', 'the Release notes are ready']);
      expect(result.hasMore).to.equal(false);
      const lines = response.text.split('\n');
      expect(lines).to.have.length(3);
      expect(lines[0]).to.contain('carol: notes on the release').and.to.contain(`(with carol, #${result.messages[0].id})`);
      expect(lines[2]).to.contain('alice: the Release notes are ready').and.to.contain(`(with bob, #${result.messages[2].id})`);
    });

    it('says when nothing matches, says there is more past twenty, and refuses a search without words', async function () {
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      const aliceStream = await openStream(alice);
      await sendAll(aliceStream, 'bob', Array.from({ length: 21 }, (_, i) => `status report ${i + 1}`), 's');
      const none = await alice.command('/SEARCH "weekly digest"');
      expect(searchResult(none).messages).to.deep.equal([]);
      expect(none.text).to.equal('no messages of yours contain "weekly" and "digest"');
      const many = searchResult(await alice.command('/SEARCH report'));
      expect(many.messages).to.have.length(20);
      expect(many.messages[0].body).to.equal('status report 21');
      expect(many.hasMore).to.equal(true);
      const err = await expectStatus(alice.command('/SEARCH'), status.INVALID_ARGUMENT);
      expect(err.details).to.contain('/SEARCH');
      const controls = searchResult(await request(alice, { loginOnly: false, input: { $case: 'invocation', invocation: { name: 'SEARCH', args: ['status\u0000report', '\u0007'] } } }));
      expect(controls.words).to.deep.equal(['status', 'report']);
      expect(controls.messages).to.have.length(20);
    });
  });

  describe('action messages (/ME)', function () {
    it('stores an action as an action: the receiver, the history and search all see its kind', async function () {
      const alice = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const aliceStream = await openStream(alice);
      const bobStream = await openStream(bob);
      aliceStream.send('bob', 'waves from the station', 'act-1', MessageKind.MESSAGE_KIND_ACTION);
      aliceStream.send('bob', 'plain words', 'text-1');
      await bobStream.until('two messages', (s) => s.messages.length === 2);
      expect(bobStream.messages.map((m) => [m.body, m.kind])).to.deep.equal([
        ['waves from the station', MessageKind.MESSAGE_KIND_ACTION],
        ['plain words', MessageKind.MESSAGE_KIND_UNSPECIFIED],
      ]);
      const history = historyResult(await bob.command('/HISTORY alice'));
      expect(history.messages.map((m) => m.kind)).to.deep.equal([MessageKind.MESSAGE_KIND_ACTION, MessageKind.MESSAGE_KIND_UNSPECIFIED]);
      expect(searchResult(await bob.command('/SEARCH station')).messages[0].kind).to.equal(MessageKind.MESSAGE_KIND_ACTION);
    });

    it('refuses a message kind the server does not know with INVALID_ARGUMENT, stores nothing and keeps the stream open', async function () {
      const alice = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const aliceStream = await openStream(alice);
      await openStream(bob);
      aliceStream.send('bob', 'from the future', 'kind-9', 9);
      await aliceStream.until('the refusal', (s) => s.errors.length === 1);
      expect(aliceStream.errors[0]).to.deep.include({ code: status.INVALID_ARGUMENT, clientId: 'kind-9' });
      expect(aliceStream.errors[0].message).to.contain('message kind 9');
      await sendAll(aliceStream, 'bob', ['still here'], 'after');
      expect(bodies(historyResult(await alice.command('/HISTORY bob')).messages)).to.deep.equal(['still here']);
    });
  });

  describe('/COMMANDS', function () {
    it('lists every command without a token, the typed list matching the text line by line', async function () {
      const response = await connect().command('/COMMANDS', undefined);
      const commands = commandsResult(response);
      expect(commands.map((c) => c.name)).to.deep.equal(ALL_COMMANDS);
      const lines = response.text.split('\n');
      expect(lines).to.have.length(commands.length);
      commands.forEach((command, i) => {
        expect(command.summary, command.name).to.not.be.empty;
        expect(lines[i].startsWith(`${command.name} ${command.usage}`), lines[i]).to.equal(true);
        expect(lines[i].endsWith(command.summary), lines[i]).to.equal(true);
      });
      expect(commands.find((c) => c.name === '/HISTORY')!.usage).to.equal('<name|#room> [count] [before-id]');
    });

    it('works the same with a token, or with a token the server does not know', async function () {
      const alice = await loggedIn('alice');
      expect(commandsResult(await alice.command('/COMMANDS')).map((c) => c.name)).to.deep.equal(ALL_COMMANDS);
      expect(commandsResult(await alice.command('/commands', 'not-a-token')).map((c) => c.name)).to.deep.equal(ALL_COMMANDS);
    });
  });

  describe('/QUIT', function () {
    it('ends the session: its token stops working and its open stream ends with OK', async function () {
      const alice = await loggedIn('alice');
      const stream = await openStream(alice);

      const response = await alice.command('/QUIT');
      expect(response.result).to.deep.equal({ $case: 'loggedOut', loggedOut: { user: 'alice' } });
      expect((await stream.ended()).code).to.equal(status.OK);

      const err = await expectStatus(alice.command('/TIME'), status.UNAUTHENTICATED);
      expect(err.details).to.contain('/LOGIN');
      await expectStatus(alice.command('/QUIT'), status.UNAUTHENTICATED);
      const again = alice.converse();
      streams.push(again);
      expect((await again.ended()).code).to.equal(status.UNAUTHENTICATED);
    });

    it('leaves another session of the same user, and its stream, working', async function () {
      const aliceHere = await loggedIn('alice');
      const aliceThere = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const hereStream = await openStream(aliceHere);
      const thereStream = await openStream(aliceThere);
      const bobStream = await openStream(bob);

      await aliceHere.command('/QUIT');
      expect((await hereStream.ended()).code).to.equal(status.OK);

      expect((await aliceThere.command('/TIME')).result?.$case).to.equal('time');
      bobStream.send('alice', 'still there?', 'b1');
      await thereStream.until('the message', (s) => s.messages.some((m) => m.body === 'still there?'));
      expect(thereStream.status).to.equal(undefined);
      expect(usersResult(await bob.command('/USERS')).find((u) => u.name === 'alice')!.online).to.equal(true);
    });
  });

  describe('requests that are not valid commands', function () {
    it('answers an unknown command with INVALID_ARGUMENT pointing at /COMMANDS, with or without a token', async function () {
      const alice = await loggedIn('alice');
      for (const token of [alice.token, undefined]) {
        const err = await expectStatus(alice.command('/DANCE', token), status.INVALID_ARGUMENT);
        expect(err.details).to.contain('/DANCE').and.to.contain('/COMMANDS');
      }
    });

    it('answers a line that is not a command with INVALID_ARGUMENT explaining that messages go on Converse', async function () {
      const alice = await loggedIn('alice');
      const err = await expectStatus(alice.command('hello'), status.INVALID_ARGUMENT);
      expect(err.details).to.contain('not a command').and.to.contain('Converse');
    });

    it('answers an empty request, an empty line and a blank line with INVALID_ARGUMENT', async function () {
      const alice = await loggedIn('alice');
      expect((await expectStatus(request(alice, { loginOnly: false, input: undefined }), status.INVALID_ARGUMENT)).details).to.contain('empty');
      for (const line of ['', '   \t ']) {
        expect((await expectStatus(alice.command(line), status.INVALID_ARGUMENT)).details).to.contain('/COMMANDS');
      }
    });

    it('answers too many arguments with INVALID_ARGUMENT and the usage', async function () {
      const alice = await loggedIn('alice');
      expect((await expectStatus(alice.command('/TIME now'), status.INVALID_ARGUMENT)).details).to.contain(
        'usage: /TIME (no arguments)',
      );
      expect((await expectStatus(alice.command('/START bob carol'), status.INVALID_ARGUMENT)).details).to.contain(
        'usage: /START <name>',
      );
      expect((await expectStatus(alice.command('/HISTORY bob 5 10 20'), status.INVALID_ARGUMENT)).details).to.contain(
        'usage: /HISTORY',
      );
    });

    it('runs a command given as an invocation, with or without its slash, in any case', async function () {
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      const started = await request(alice, { loginOnly: false, input: { $case: 'invocation', invocation: { name: 'start', args: ['bob'] } } });
      expect(conversationResult(started).peer).to.equal('bob');
      const history = await request(alice, {
        loginOnly: false,
        input: { $case: 'invocation', invocation: { name: '/History', args: ['bob', '5'] } },
      });
      expect(historyResult(history).peer).to.equal('bob');
      const err = await expectStatus(
        request(alice, { loginOnly: false, input: { $case: 'invocation', invocation: { name: 'start', args: [] } } }),
        status.INVALID_ARGUMENT,
      );
      expect(err.details).to.contain('usage: /START <name>');
    });
  });

  describe('authentication', function () {
    it('refuses every command but /LOGIN and /COMMANDS without a token, saying how to log in', async function () {
      const client = connect();
      await loggedIn('bob');
      for (const line of SESSION_COMMANDS) {
        const err = await expectStatus(client.command(line, undefined), status.UNAUTHENTICATED);
        expect(err.details, line).to.contain('/LOGIN');
      }
    });

    it('refuses every command but /LOGIN and /COMMANDS with a token the server does not know', async function () {
      const client = connect();
      await loggedIn('bob');
      for (const line of SESSION_COMMANDS) {
        const err = await expectStatus(client.command(line, 'garbage-token'), status.UNAUTHENTICATED);
        expect(err.details, line).to.contain('unknown or has ended');
      }
    });

    it('refuses an authorization header that is not a bearer token', async function () {
      const alice = await loggedIn('alice');
      for (const value of ['Basic x', `Basic ${alice.token}`, 'Bearer', alice.token!]) {
        const metadata = new grpc.Metadata();
        metadata.set('authorization', value);
        const err = await expectStatus(request(alice, { loginOnly: false, input: { $case: 'line', line: '/TIME' } }, metadata), status.UNAUTHENTICATED);
        expect(err.details, value).to.contain('Bearer');
      }
    });

    it('accepts the bearer scheme in any case', async function () {
      const alice = await loggedIn('alice');
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `bearer ${alice.token}`);
      const response = await request(alice, { loginOnly: false, input: { $case: 'line', line: '/TIME' } }, metadata);
      expect(response.result?.$case).to.equal('time');
    });
  });
});
