import { TEST_PASSWORD } from '../../support/grpc-client';
import { expect } from 'chai';
import { ChatConnection } from '../../../src/client/connection';
import { openTui, type TuiSession } from '../../../src/client/tui/run-tui';
import { textWidth } from '../../../src/client/tui/text-width';
import { removeTempDirs, startTestServer, type TestServer } from '../../support/test-server';
import { eventually, unusedPort } from '../../support/eventually';
import { FAST_BACKOFF } from '../../support/connection-watcher';
import { fakeTerminal, rowsOf, screenText, type FakeTerminal } from '../../support/fake-terminal';

describe('the full-screen client on an in-memory terminal', function () {
  let server: TestServer;
  let sessions: Array<{ session: TuiSession; terminal: FakeTerminal }>;
  let connections: ChatConnection[];

  beforeEach(async () => {
    server = await startTestServer();
    sessions = [];
    connections = [];
  });

  afterEach(async () => {
    for (const { session, terminal } of sessions) {
      terminal.input.write('\x03');
      // A second Ctrl-C leaves even with sends pending.
      setTimeout(() => terminal.input.write('\x03'), 50).unref();
      await session.exit;
    }
    await Promise.all(connections.map((connection) => connection.close()));
    await server.stop();
    removeTempDirs();
  });

  function open(user: string | undefined, options: { columns?: number; rows?: number; server?: string; seconds?: boolean } = {}) {
    const terminal = fakeTerminal(options.columns, options.rows);
    const session = openTui({
      server: options.server ?? server.target,
      user,
      password: TEST_PASSWORD,
      input: terminal.input,
      output: terminal.output,
      terminal: 'xterm-256color',
      backoff: FAST_BACKOFF,
      seconds: options.seconds,
    });
    sessions.push({ session, terminal });
    const see = (text: string, what = `"${text}" on the screen`) => eventually(what, () => screenText(session.screen).includes(text));
    const type = (keys: string) => terminal.input.write(keys);
    return { terminal, session, see, type, screen: session.screen };
  }

  async function person(user: string): Promise<ChatConnection> {
    const connection = new ChatConnection({ server: server.target, user, password: TEST_PASSWORD, backoff: FAST_BACKOFF });
    connections.push(connection);
    await connection.connect();
    return connection;
  }

  it('shows what is typed on the input row, sends it on Enter and marks it sent once stored', async () => {
    const bob = await person('bob');
    const received: string[] = [];
    bob.on('message', (message) => received.push(message.body));
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('/START bob\r');
    await alice.see('this is the start of your conversation with bob');
    alice.type('hello 中文 ✅ there');
    await alice.see('bob › hello 中文 ✅ there');
    alice.type('\r');
    await eventually('the sent mark', () => rowsOf(alice.screen).some((row) => /\d\d:\d\d ✓ alice  hello 中文 ✅ there\s*$/.test(row)));
    await eventually('the message at bob', () => received.length === 1);
    expect(received).to.deep.equal(['hello 中文 ✅ there']);
    const inputRow = rowsOf(alice.screen)[22];
    expect(inputRow).to.match(/^bob › message bob — Enter sends/);
    expect(rowsOf(alice.screen)[23]).to.match(/^ ● connected {2}alice @ 127\.0\.0\.1:\d+ │ bob +F1 help $/);
  });

  it('switches conversations with Alt-number, Ctrl-N and Tab on an empty line', async () => {
    await person('bob');
    await person('carol');
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('/START bob\r');
    await alice.see('conversation with bob');
    alice.type('/START carol\r');
    await alice.see('conversation with carol');
    const header = () => rowsOf(alice.screen)[0].slice(20).trim();
    expect(header()).to.match(/^carol +● online$/);
    alice.type('\x1b1');
    await eventually('bob shown', () => /^bob/.test(header()));
    alice.type('\x0e');
    await eventually('carol shown', () => /^carol/.test(header()));
    alice.type('\t');
    await eventually('bob shown again', () => /^bob/.test(header()));
    expect(rowsOf(alice.screen)[1]).to.match(/^ 1 ● bob/);
    expect(rowsOf(alice.screen)[2]).to.match(/^ 2 ● carol/);
  });

  it('opens a conversation in the background for a message from someone new, with an unread count and a bell', async () => {
    await person('bob');
    const carol = await person('carol');
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('/START bob\r');
    await alice.see('conversation with bob');
    const bellsBefore = alice.terminal.written().split('\x07').length;
    carol.send('alice', 'are you free at three?');
    await eventually('carol in the sidebar with one unread', () => /^ 2 ● carol +1 $/.test(rowsOf(alice.screen)[2].slice(0, 19)));
    expect(rowsOf(alice.screen)[0].slice(20)).to.match(/^ bob/);
    expect(alice.terminal.written().split('\x07').length).to.be.greaterThan(bellsBefore);
    alice.type('\x1b2');
    await alice.see('are you free at three?');
    expect(rowsOf(alice.screen)[2].slice(0, 19)).to.match(/^ 2 ● carol +$/);
  });

  it('takes a bracketed paste whole, newlines included, grows the input area, and sends it as one message on Enter; Alt-Enter adds a line', async () => {
    const bob = await person('bob');
    const received: string[] = [];
    bob.on('message', (message) => received.push(message.body));
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    expect(alice.terminal.written()).to.include('\x1b[?2004h');
    alice.type('/START bob\r');
    await alice.see('this is the start of your conversation with bob');
    alice.type('\x1b[200~Traceback (most recent call last):\r  File "a.py", line 1\r\nValueError: bad\x1b[201~');
    await eventually('the paste on three rows', () => {
      const rows = rowsOf(alice.screen);
      return rows[20] === 'bob › Traceback (most recent call last):' + ' '.repeat(40) && /^ {8}File "a.py", line 1 *$/.test(rows[21]) && /^ {6}ValueError: bad *$/.test(rows[22]);
    });
    expect(received).to.deep.equal([]);
    alice.type('\x1b\r');
    await eventually('a fourth row', () => rowsOf(alice.screen)[19].startsWith('bob › Traceback'));
    alice.type('(end)');
    await eventually('the fourth row typed', () => /^ {6}\(end\) *$/.test(rowsOf(alice.screen)[22]));
    alice.type('\r');
    await eventually('one message at bob', () => received.length === 1);
    expect(received).to.deep.equal(['Traceback (most recent call last):\n  File "a.py", line 1\nValueError: bad\n(end)']);
    await eventually('the input area back to one row', () => /^bob › message bob/.test(rowsOf(alice.screen)[22]));
    await alice.see('ValueError: bad');
  });

  it('shows a paste of 10,000 characters in the input line, with bracketed paste and without', async () => {
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    const text = 'paste '.repeat(1666) + 'END-ONE';
    const inputRow = () => rowsOf(alice.screen)[22];
    alice.type(text);
    await eventually('the end of the typed paste in the input line', () => inputRow().includes('END-ONE'));
    alice.type('\x15');
    await eventually('the line emptied', () => /^› type \/START/.test(inputRow()));
    alice.type(`\x1b[200~${text.replace('END-ONE', 'END-TWO')}\x1b[201~`);
    await eventually('the end of the bracketed paste in the input line', () => inputRow().includes('END-TWO'));
  });

  it('names the server node in the status bar, and the next one after a failover; shows seconds when asked', async () => {
    const second = await startTestServer({ dbPath: server.dbPath, nodeName: 'node-two' });
    try {
      const first = await startTestServer({ nodeName: 'node-one' });
      const alice = open('alice', { server: `${first.target},${second.target}`, seconds: true });
      await alice.see(`alice @ node-one (${first.target})`);
      alice.type('/START alice\r');
      await alice.see('no messages yet — say hello to alice');
      alice.type('a note to self\r');
      await eventually('the time with seconds', () => rowsOf(alice.screen).some((row) => /\d\d:\d\d:\d\d ✓ alice {2}a note to self/.test(row)));
      await first.stop();
      await alice.see(`alice @ node-two (${second.target})`, 'the second node in the status bar');
    } finally {
      for (const { session, terminal } of sessions.splice(0)) {
        terminal.input.write('\x03');
        setTimeout(() => terminal.input.write('\x03'), 50).unref();
        await session.exit;
      }
      await second.stop();
    }
  });

  it('completes names with Tab and brings earlier lines back with Up', async () => {
    await person('bob');
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('/sta');
    alice.type('\t');
    await alice.see('› /start ');
    alice.type('b\t');
    await alice.see('› /start bob ');
    alice.type('\r');
    await alice.see('conversation with bob');
    alice.type('\x1b[A');
    await alice.see('bob › /start bob');
  });

  it('scrolls back with PageUp, loading older pages at the top, and returns to the newest with End', async () => {
    await (await person('alice')).close();
    const carol = await person('carol');
    for (let i = 1; i <= 60; i += 1) carol.send('alice', `message ${i}`);
    expect(await carol.drain(10_000)).to.equal(true);
    // Alice reads them once elsewhere, so only history has them now.
    const reader = await person('alice');
    let seen = 0;
    reader.on('message', () => (seen += 1));
    await eventually('the sixty messages', () => seen === 60);
    await reader.close();

    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('/START carol\r');
    await alice.see('message 60');
    expect(screenText(alice.screen)).not.to.include('message 40 ');
    for (let i = 0; i < 8 && !screenText(alice.screen).includes('this is the start of your conversation'); i += 1) {
      alice.type('\x1b[5~');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await alice.see('this is the start of your conversation with carol');
    expect(screenText(alice.screen)).to.match(/carol {2}message 1\s/);
    expect(rowsOf(alice.screen)[0]).to.include('↓ newer below: End');
    alice.type('\x1b[F');
    await alice.see('message 60');
    expect(rowsOf(alice.screen)[0]).not.to.include('newer below');
  });

  it('draws again for a new terminal size, without the sidebar when narrow', async () => {
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    expect(rowsOf(alice.screen)[0]).to.match(/^ Conversations/);
    alice.terminal.output.columns = 50;
    alice.terminal.output.rows = 16;
    alice.terminal.output.emit('resize');
    await eventually('the narrow layout', () => rowsOf(alice.screen).length === 16 && rowsOf(alice.screen)[0].startsWith(' TinyChat'));
    const rows = rowsOf(alice.screen);
    expect(rows[15]).to.match(/^ ● connected {2}alice @ .* F1 help $/);
    expect(rows.every((row) => textWidth(row) === 50)).to.equal(true);
  });

  it('shows help on F1 and the user table on /USERS, each gone at Esc', async () => {
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('\x1bOP');
    await alice.see('Help — Esc closes');
    await alice.see('/HISTORY <name|#room> [count] [before-id]');
    alice.type('\x1b');
    await eventually('the help gone', () => !screenText(alice.screen).includes('Help — Esc closes'));
    alice.type('/USERS\r');
    await alice.see('Users — 1 of 1 online');
    expect(screenText(alice.screen)).to.match(/NAME +STATUS +LAST SEEN/);
    expect(screenText(alice.screen)).to.match(/alice \(you\) +● online +now/);
  });

  it('leaves on Ctrl-C, telling the server, and gives the terminal back', async () => {
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('\x03');
    expect(await alice.session.exit).to.equal(0);
    sessions = sessions.filter((s) => s.session !== alice.session);
    // The alternate screen is left and the cursor shown again.
    expect(alice.terminal.written()).to.include('\x1b[?1049l');
    expect(alice.terminal.written().lastIndexOf('\x1b[?25h')).to.be.greaterThan(alice.terminal.written().lastIndexOf('\x1b[?25l'));
    const check = await person('bob');
    const users = await check.command('/USERS');
    expect(users.result?.$case === 'users' && users.result.users.users.find((u) => u.name === 'alice')?.online).to.equal(false);
  });

  it('asks for the name on a login form and shows there why the server could not be reached', async () => {
    const alice = open(undefined, { server: `127.0.0.1:${await unusedPort()}` });
    await alice.see('Log in to chat.');
    alice.type('alice\r');
    await alice.see('cannot reach 127.0.0.1:');
    await alice.see('is `tinychat serve`');
    // Tab twice: from the name past the password to the server field.
    alice.type('\t\t\x15' + server.target + '\r');
    await alice.see('Welcome to TinyChat, alice.');
  });
});
