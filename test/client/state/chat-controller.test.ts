import { TEST_PASSWORD } from '../../support/grpc-client';
import { expect } from 'chai';
import { ChatConnection } from '../../../src/client/connection';
import { ChatController } from '../../../src/client/state/chat-controller';
import { ChatState } from '../../../src/client/state/chat-state';
import type { ChatMessage, Conversation, TimelineEntry } from '../../../src/client/state/conversation';
import { removeTempDirs, startTestServer, type TestServer } from '../../support/test-server';
import { eventually, sleep, unusedPort } from '../../support/eventually';
import { FAST_BACKOFF } from '../../support/connection-watcher';

interface Person {
  state: ChatState;
  controller: ChatController;
  connection: ChatConnection;
  bells: number;
}

function messages(conversation: Conversation | undefined): ChatMessage[] {
  return (conversation?.entries() ?? []).filter((entry): entry is ChatMessage => entry.kind === 'message');
}

function bodies(conversation: Conversation | undefined): string[] {
  return messages(conversation).map((m) => m.body);
}

function notices(entries: TimelineEntry[]): string[] {
  return entries.flatMap((entry) => (entry.kind === 'notice' ? [entry.text] : []));
}

describe('ChatController', function () {
  let server: TestServer;
  let people: Person[];

  beforeEach(async () => {
    server = await startTestServer();
    people = [];
  });

  afterEach(async () => {
    await Promise.all(people.map((person) => person.connection.close()));
    await server.stop();
    removeTempDirs();
  });

  function person(user: string, target = server.target): Person {
    const connection = new ChatConnection({ server: target, user, password: TEST_PASSWORD, backoff: FAST_BACKOFF });
    const state = new ChatState(user, target);
    const created: Person = { state, controller: new ChatController(connection, state), connection, bells: 0 };
    state.on('bell', () => (created.bells += 1));
    people.push(created);
    return created;
  }

  async function online(user: string): Promise<Person> {
    const created = person(user);
    await created.controller.connect();
    return created;
  }

  async function register(user: string): Promise<void> {
    const connection = new ChatConnection({ server: server.target, user, password: TEST_PASSWORD });
    await connection.connect();
    await connection.close();
  }

  /** Sends from a bare connection and waits until the server stored everything. */
  async function sendAll(from: string, to: string, texts: string[]): Promise<void> {
    const connection = new ChatConnection({ server: server.target, user: from, password: TEST_PASSWORD, backoff: FAST_BACKOFF });
    await connection.connect();
    for (const text of texts) connection.send(to, text);
    expect(await connection.drain(10_000)).to.equal(true);
    await connection.close();
  }

  it('loads the people and the commands on connect, in the registered spelling of the name', async () => {
    await (await online('Alice')).connection.close();
    const alice = await online('alice');
    expect(alice.state.me).to.equal('Alice');
    expect(alice.state.roster.get('alice')?.online).to.equal(true);
    expect(alice.state.commands.map((c) => c.name)).to.include('/HISTORY').and.not.include('/LOGIN');
  });

  it('sends to the conversation shown: pending at once, sent once stored; the receiver gets it in the background with an unread count and a bell', async () => {
    const bob = await online('bob');
    const alice = await online('alice');
    await alice.controller.submit('/START bob');
    expect(alice.state.current?.peer).to.equal('bob');
    expect(alice.state.current?.hasMore).to.equal(false);

    await alice.controller.submit('hello bob');
    expect(messages(alice.state.current).map((m) => m.delivery)).to.deep.equal(['pending']);
    await eventually('the receipt', () => messages(alice.state.current)[0]?.delivery === 'sent');

    await eventually('the message at bob', () => bodies(bob.state.find('alice')).length === 1);
    const conversation = bob.state.find('alice')!;
    expect(bob.state.current).to.equal(undefined);
    expect(conversation.unread).to.equal(1);
    expect(bob.bells).to.equal(1);
    await eventually('its history', () => conversation.hasMore === false);
    expect(bodies(conversation)).to.deep.equal(['hello bob']);
  });

  it('sends /ME as an action that both sides show as one, and explains /ME without an action', async () => {
    const bob = await online('bob');
    const alice = await online('alice');
    await alice.controller.submit('/START bob');
    await alice.controller.submit('/me waves from the station');
    expect(messages(alice.state.current).map((m) => [m.body, m.action, m.delivery])).to.deep.equal([['waves from the station', true, 'pending']]);
    await eventually('the receipt', () => messages(alice.state.current)[0]?.delivery === 'sent');
    expect(messages(alice.state.current)[0].action).to.equal(true);
    await eventually('the action at bob', () => messages(bob.state.find('alice'))[0]?.action === true);
    expect(bodies(bob.state.find('alice'))).to.deep.equal(['waves from the station']);
    await alice.controller.submit('/ME');
    expect(notices(alice.state.current!.entries())).to.include('/ME needs the action — usage: /ME <action>, e.g. /ME waves');
    expect(alice.state.commands.map((c) => c.name)).to.include('/ME');
  });

  it('shows the recent history of a conversation opened by a message, without doubling that message', async () => {
    await register('bob');
    await sendAll('alice', 'bob', ['one', 'two', 'three']);
    // Bob reads those in one session; they are acknowledged then.
    const first = await online('bob');
    await eventually('the first three', () => bodies(first.state.find('alice')).length === 3);
    await sleep(300);
    await first.connection.close();

    await sendAll('alice', 'bob', ['four']);
    const bob = await online('bob');
    await eventually('the history and the live message', () => bodies(bob.state.find('alice')).length === 4);
    await sleep(100);
    expect(bodies(bob.state.find('alice'))).to.deep.equal(['one', 'two', 'three', 'four']);
    expect(bob.state.find('alice')!.unread).to.equal(1);
  });

  it('pages back through a long conversation until its start, each message once and in order', async () => {
    const texts = Array.from({ length: 75 }, (_, i) => `message ${i + 1}`);
    await register('dave');
    await sendAll('erin', 'dave', texts);
    // Dave reads them once, so they are acknowledged and only history has them.
    const dave = await online('dave');
    await eventually('the live messages', () => bodies(dave.state.find('erin')).length === 75);
    await sleep(300);
    await dave.connection.close();
    const again = await online('dave');
    await again.controller.submit('/START erin');
    const history = again.state.current!;
    expect(bodies(history)).to.deep.equal(texts.slice(-20));
    expect(history.hasMore).to.equal(true);
    await again.controller.loadOlder();
    expect(bodies(history)).to.deep.equal(texts.slice(-70));
    expect(history.hasMore).to.equal(true);
    await again.controller.loadOlder();
    expect(bodies(history)).to.deep.equal(texts);
    expect(history.hasMore).to.equal(false);
    await again.controller.loadOlder();
    expect(bodies(history)).to.deep.equal(texts);
  });

  it('keeps what is typed while the server restarts, sends it once in order, and shows nothing twice', async () => {
    const alice = await online('alice');
    const bob = await online('bob');
    await alice.controller.submit('/START bob');
    await alice.controller.submit('before');
    await eventually('the first message', () => bodies(bob.state.find('alice')).length === 1);

    const { port, dbPath } = server;
    await server.stop();
    await eventually('both to notice', () => alice.connection.state !== 'connected' && bob.connection.state !== 'connected');
    expect(alice.state.status.describe(Date.now()).tone).to.equal('down');
    await alice.controller.submit('during one');
    await alice.controller.submit('during two');
    expect(alice.state.pendingCount).to.equal(2);

    server = await startTestServer({ dbPath, port });
    await eventually('the receipts', () => alice.state.pendingCount === 0, 10_000);
    await eventually('the messages', () => bodies(bob.state.find('alice')).length >= 3, 10_000);
    await sleep(200);
    expect(bodies(bob.state.find('alice'))).to.deep.equal(['before', 'during one', 'during two']);
    expect(bodies(alice.state.find('bob'))).to.deep.equal(['before', 'during one', 'during two']);
    expect(messages(alice.state.find('bob')).map((m) => m.delivery)).to.deep.equal(['sent', 'sent', 'sent']);
    expect(notices(alice.state.home.entries())).to.include('reconnected');
    expect(alice.state.status.describe(Date.now())).to.deep.equal({ tone: 'ok', text: 'connected' });
  });

  it('does not leave with unsent messages while the server is away until asked twice, and reports them then', async () => {
    const alice = await online('alice');
    await online('bob');
    await alice.controller.submit('/START bob');
    await server.stop();
    await eventually('the lost connection', () => alice.connection.state !== 'connected');
    await alice.controller.submit('not yet stored');

    expect(await alice.controller.quit()).to.deep.equal({ done: false });
    expect(notices(alice.state.current!.entries()).join('\n')).to.include('press Ctrl-C (or /QUIT) again to leave anyway');
    const outcome = await alice.controller.quit();
    expect(outcome.done).to.equal(true);
    expect(outcome.done && outcome.unsent.map((send) => send.body)).to.deep.equal(['not yet stored']);
    expect(alice.connection.state).to.equal('closed');
    server = await startTestServer();
  });

  it('waits for pending sends before leaving when the server is there', async () => {
    const alice = await online('alice');
    await online('bob');
    await alice.controller.submit('/START bob');
    await alice.controller.submit('last words');
    expect(await alice.controller.submit('/QUIT')).to.equal('quit');
    expect(await alice.controller.quit()).to.deep.equal({ done: true, unsent: [] });
    const check = await online('bob');
    await check.controller.submit('/START alice');
    expect(bodies(check.state.current)).to.deep.equal(['last words']);
  });

  it('answers /USERS with the user table, /TIME in local time, and errors where the person is looking', async () => {
    const alice = await online('alice');
    await (await online('bob')).connection.close();
    await alice.controller.submit('/USERS');
    expect(alice.state.overlay?.kind).to.equal('users');
    expect(alice.state.overlay?.kind === 'users' && alice.state.overlay.people.map((p) => `${p.name}:${p.online}`)).to.deep.equal([
      'alice:true',
      'bob:false',
    ]);
    await alice.controller.submit('/TIME');
    await alice.controller.submit('/START nobody');
    await alice.controller.submit('/FROB');
    await alice.controller.submit('/LOGIN bob');
    const said = notices(alice.state.home.entries());
    // The first login of the name registered it, and the client said so.
    expect(said.shift()).to.equal('a new account, alice, was created with the password you gave');
    expect(said[0]).to.match(/^server time: \d\d:\d\d:\d\d, \w+day \d+ \w+ \d{4} \(your time zone\)$/);
    expect(said[1]).to.include('nobody');
    expect(said[2]).to.include('unknown command');
    expect(said[3]).to.include('you are logged in as alice');
    await alice.controller.submit('/COMMANDS');
    expect(alice.state.overlay?.kind).to.equal('help');
  });

  it('closes the conversation shown on /STOP and says how to open it again; a message with none open gets a hint', async () => {
    await register('bob');
    await register('carol');
    const alice = await online('alice');
    // As a screen does: its sidebar shows everyone /USERS listed, so alice watches them.
    alice.state.setSidebarRows(20);
    await online('bob');
    await online('carol');
    // Presence arrives on its own time; once alice has seen both online, no late notice joins the ones checked.
    await eventually('bob and carol online for alice', () => alice.state.roster.get('bob')?.online && alice.state.roster.get('carol')?.online);
    await alice.controller.submit('/START bob');
    await alice.controller.submit('/START carol');
    await alice.controller.submit('/STOP');
    expect(alice.state.conversations.map((c) => c.peer)).to.deep.equal(['bob']);
    expect(alice.state.current?.peer).to.equal('bob');
    expect(notices(alice.state.current!.entries())).to.deep.equal(['conversation with carol closed — /START carol opens it again']);
    await alice.controller.submit('/STOP');
    await alice.controller.submit('/STOP');
    await alice.controller.submit('anyone?');
    const said = notices(alice.state.home.entries());
    expect(said.slice(-2)).to.deep.equal([
      'no conversation is open — /START <name> opens one',
      'no conversation is open — type /START <name> or /JOIN #room first (Tab completes names)',
    ]);
  });

  it('watches the people it shows: an opened conversation’s peer goes live, someone not shown stays as /USERS said', async () => {
    for (const name of ['bob', 'carol', 'dave', 'erin']) await register(name);
    const alice = await online('alice');
    // A short sidebar: "Conversations", "none yet", a blank, "People", then room for alice and "+4 more".
    alice.state.setSidebarRows(6);
    await eventually('the watch set to settle', () => alice.connection.watching.length === 0);
    await alice.controller.submit('/START erin');
    await eventually('erin watched', () => alice.connection.watching.includes('erin'));
    await online('erin');
    await online('dave');
    await eventually('erin online for alice', () => alice.state.roster.get('erin')?.online === true);
    expect(alice.state.roster.get('dave')?.online, 'dave is not shown, so not watched').to.equal(false);
    await alice.controller.submit('/STOP');
    await eventually('erin no longer watched', () => !alice.connection.watching.includes('erin'));
  });

  it('goes to an open conversation on /START even while the server is away', async () => {
    const alice = await online('alice');
    await online('bob');
    await online('carol');
    await alice.controller.submit('/START bob');
    await alice.controller.submit('/START carol');
    await server.stop();
    await eventually('the lost connection', () => alice.connection.state !== 'connected');
    await alice.controller.submit('/START bob');
    expect(alice.state.current?.peer).to.equal('bob');
    server = await startTestServer();
  });

  it('fails to connect with a sentence that says what to do when no server listens', async () => {
    const alice = person('alice', `127.0.0.1:${await unusedPort()}`);
    let failure: Error | undefined;
    await alice.controller.connect().catch((err: Error) => (failure = err));
    expect(failure?.message).to.match(/cannot reach 127\.0\.0\.1:\d+ — is `tinychat serve` running\?/);
  });
});
