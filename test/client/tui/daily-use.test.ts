import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ChatConnection, ClientError } from '../../../src/client/connection';
import { openTui, type TuiSession } from '../../../src/client/tui/run-tui';
import { FAST_BACKOFF } from '../../support/connection-watcher';
import { eventually } from '../../support/eventually';
import { fakeTerminal, rowsOf, screenText, type FakeTerminal } from '../../support/fake-terminal';
import { TEST_PASSWORD } from '../../support/grpc-client';
import { makeTempDir } from '../../support/temp-dir';
import { removeTempDirs, startTestServer, type TestServer } from '../../support/test-server';

const UP = '\x1b[A';

describe('the full-screen client in daily use: passwords, unread messages, sessions kept', function () {
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
      terminal.input.write('\x1b\x03');
      setTimeout(() => terminal.input.write('\x03'), 50).unref();
      await session.exit;
    }
    await Promise.all(connections.map((connection) => connection.close()));
    await server.stop();
    removeTempDirs();
  });

  /** The client for `user`; with `password` null, the login form asks for it. */
  function open(user: string | undefined, password: string | null = TEST_PASSWORD, configDir?: string) {
    const terminal = fakeTerminal();
    const session = openTui({ server: server.target, user, password: password ?? undefined, configDir, input: terminal.input, output: terminal.output, terminal: 'xterm-256color', backoff: FAST_BACKOFF });
    sessions.push({ session, terminal });
    const see = (text: string, what = `"${text}" on the screen`) => eventually(what, () => screenText(session.screen).includes(text));
    const type = (keys: string) => terminal.input.write(keys);
    return { terminal, session, see, type, screen: session.screen, everything: () => terminal.written() };
  }

  async function person(user: string): Promise<ChatConnection> {
    const connection = new ChatConnection({ server: server.target, user, password: TEST_PASSWORD, backoff: FAST_BACKOFF });
    connections.push(connection);
    await connection.connect();
    return connection;
  }

  async function canLogIn(user: string, password: string): Promise<boolean> {
    const connection = new ChatConnection({ server: server.target, user, password, backoff: FAST_BACKOFF });
    try {
      await connection.connect();
      return true;
    } catch {
      return false;
    } finally {
      await connection.close();
    }
  }

  it('asks for the passwords of /PASSWORD in a masked prompt, twice for the new one, and never shows them', async () => {
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('/PASSWORD\r');
    await alice.see('current password: shown as dots');
    alice.type(TEST_PASSWORD);
    await alice.see(`current password: ${'•'.repeat(TEST_PASSWORD.length)}`);
    alice.type('\r');
    await alice.see('new password: ');
    alice.type('new "secret" pass\r');
    await alice.see('new password again: ');
    alice.type('new "secret" pass\r');
    await alice.see('password changed');
    expect(alice.everything()).not.to.include('secret');
    expect(alice.everything()).not.to.include('horse');
    expect(await canLogIn('alice', 'new "secret" pass')).to.equal(true);
    // Up brings back nothing of it.
    alice.type(UP);
    await eventually('the input row drawn', () => rowsOf(alice.screen)[22].startsWith('› '));
    expect(rowsOf(alice.screen)[22]).not.to.include('/PASSWORD');
  });

  it('changes nothing when the new password is not typed the same twice', async () => {
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type(`/password\r${TEST_PASSWORD}\rfirst version\rsecond version\r`);
    await alice.see('the two new passwords differ');
    expect(await canLogIn('alice', TEST_PASSWORD)).to.equal(true);
  });

  it('shows a password typed after /PASSWORD or /LOGIN <name> as dots and does not keep the line for Up', async () => {
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('/start alice\r');
    await alice.see('alice › ');
    alice.type(`/PASSWORD "${TEST_PASSWORD}" "another pass 1"`);
    await alice.see(`/PASSWORD ${'•'.repeat(TEST_PASSWORD.length + 2)}`);
    alice.type('\r');
    await alice.see('password changed');
    alice.type('/login alice hunter2hunter2');
    await alice.see('/login alice •••••••••••••');
    alice.type('\r');
    await alice.see('you are logged in as alice');
    alice.type(UP);
    await alice.see('alice › /start alice');
    expect(alice.everything()).not.to.include('another pass');
    expect(alice.everything()).not.to.include('hunter2');
    expect(await canLogIn('alice', 'another pass 1')).to.equal(true);
  });

  it('asks for the password a second time when the name is new, says a new account is being created, and registers only then', async function () {
    const carol = open('carol', null);
    await carol.see('Log in to chat.');
    carol.type('first pass 1\r');
    await carol.see('Nobody is named carol yet: a new account is being created.');
    const check = new ChatConnection({ server: server.target, user: 'carol', password: 'first pass 1', register: false });
    const unknown = await check.connect().then(() => undefined, (err: ClientError) => err);
    await check.close();
    expect(unknown?.code).to.equal(status.NOT_FOUND);
    // The cursor waits in the new field; a different second password starts both again.
    carol.type('first pass 2\r');
    await carol.see('the two passwords differ — type the password twice again');
    expect(passwordRow(carol.screen)).to.equal('Password');
    carol.type('first pass 1\tfirst pass 1\r');
    await carol.see('Welcome to TinyChat, carol.');
    await carol.see('a new account, carol, was created');
    expect(await canLogIn('carol', 'first pass 1')).to.equal(true);
  });

  it('clears the password after a failed login, and counts a lockout down', async function () {
    expect(await canLogIn('alice', TEST_PASSWORD)).to.equal(true);
    const alice = open('alice', null);
    await alice.see('Log in to chat.');
    alice.type('wrong password\r');
    await alice.see('wrong name or password for alice');
    expect(passwordRow(alice.screen)).to.equal('Password');
    for (let i = 0; i < 5; i += 1) {
      alice.type('wrong password\r');
      await eventually('the attempt answered', () => passwordRow(alice.screen) === 'Password');
    }
    await alice.see('too many failed logins');
    // The sentence may wrap inside the box.
    const seconds = () => Number(/try[\s│]+again[\s│]+in[\s│]+(\d+)[\s│]+s\b/.exec(screenText(alice.screen))?.[1]);
    await eventually('a countdown', () => seconds() > 50);
    const first = seconds();
    await eventually('the countdown going down', () => seconds() < first, 3000);
    expect(screenText(alice.screen)).to.include('Logging in is refused until then.');
  });

  it('counts every message of a burst as unread and opens the conversation at a "new messages" line above the first', async function () {
    await person('bob');
    const carol = await person('carol');
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    carol.send('alice', 'read long ago');
    alice.type('/START carol\r');
    await alice.see('read long ago');
    alice.type('/START bob\r');
    await alice.see('this is the start of your conversation with bob');
    for (let i = 1; i <= 40; i += 1) carol.send('alice', `burst ${i}`);
    expect(await carol.drain(10_000)).to.equal(true);
    await eventually('40 unread from carol in the sidebar', () => /^ 1 ● carol +40 $/.test(rowsOf(alice.screen)[1].slice(0, 19)));
    alice.type('\x1b1');
    await alice.see('burst 1');
    const pane = rowsOf(alice.screen).map((row) => row.slice(20));
    const marker = pane.findIndex((row) => /─ new messages ─/.test(row));
    expect(marker, pane.join('\n')).to.be.greaterThan(-1);
    expect(pane[marker + 1]).to.match(/carol +burst 1 *$/);
    expect(rowsOf(alice.screen)[1].slice(0, 19)).to.match(/^ 1 ● carol +$/);
  });

  it('resumes where it was after a restart, without the password, and asks for it again after /LOGOUT', async function () {
    const configDir = join(makeTempDir(), 'tinychat');
    await (await person('alice')).close();
    const bob = await person('bob');
    const carol = await person('carol');
    bob.send('alice', 'from bob, read');
    carol.send('alice', 'from carol, read');
    expect(await bob.drain(5000)).to.equal(true);
    expect(await carol.drain(5000)).to.equal(true);
    const first = open('alice', TEST_PASSWORD, configDir);
    await first.see('Welcome to TinyChat, alice.');
    first.type('\x1b1');
    await first.see('from bob, read');
    first.type('\x1b2');
    await first.see('from carol, read');
    first.type('/QUIT\r');
    expect(await first.session.exit).to.equal(0);
    expect(statSync(configDir).mode & 0o777).to.equal(0o700);
    expect(statSync(join(configDir, 'sessions.json')).mode & 0o777).to.equal(0o600);
    // While alice is away, bob writes twice.
    bob.send('alice', 'new from bob 1');
    bob.send('alice', 'new from bob 2');
    expect(await bob.drain(5000)).to.equal(true);

    // No password and no name: the saved session is resumed, carol's conversation shown, bob's with 2 unread.
    const second = open(undefined, null, configDir);
    await second.see('from carol, read');
    await eventually('bob with 2 unread', () => /^ 1 ● bob +2 $/.test(rowsOf(second.screen)[1].slice(0, 19)));
    expect(rowsOf(second.screen)[23]).to.match(/alice @ 127\.0\.0\.1:\d+ │ carol/);
    second.type('\x1b1');
    await second.see('new from bob 2');
    const pane = rowsOf(second.screen).map((row) => row.slice(20));
    const marker = pane.findIndex((row) => /─ new messages ─/.test(row));
    expect(pane[marker + 1], pane.join('\n')).to.match(/bob +new from bob 1 *$/);
    second.type('/LOGOUT\r');
    expect(await second.session.exit).to.equal(0);

    const third = open(undefined, null, configDir);
    await third.see('Log in to chat.');
    expect(JSON.parse(readFileSync(join(configDir, 'sessions.json'), 'utf8')).sessions).to.deep.equal([]);
  });

  it('asks for the password when the saved session has ended on the server', async function () {
    const configDir = join(makeTempDir(), 'tinychat');
    const first = open('alice', TEST_PASSWORD, configDir);
    await first.see('Welcome to TinyChat, alice.');
    first.type('\x03');
    expect(await first.session.exit).to.equal(0);
    // Another terminal changes the password, which ends every other session.
    const other = await person('alice');
    await other.command(`/PASSWORD "${TEST_PASSWORD}" "a brand new password"`);
    const second = open(undefined, null, configDir);
    await second.see('the saved session of alice has ended');
    expect(rowsOf(second.screen).some((row) => /Name +alice/.test(row))).to.equal(true);
    second.type('a brand new password\r');
    await second.see('Welcome to TinyChat, alice.');
  });

  it('logs in with the password it was given when the saved session has ended, without stopping at the form', async function () {
    const configDir = join(makeTempDir(), 'tinychat');
    const first = open('alice', TEST_PASSWORD, configDir);
    await first.see('Welcome to TinyChat, alice.');
    first.type('\x03');
    expect(await first.session.exit).to.equal(0);
    // The token is refused once the session is ended on the server.
    const saved = JSON.parse(readFileSync(join(configDir, 'sessions.json'), 'utf8')).sessions[0];
    const other = await person('alice');
    await other.command(`/PASSWORD "${TEST_PASSWORD}" "${TEST_PASSWORD}"`);
    const second = open('alice', TEST_PASSWORD, configDir);
    await second.see('Welcome to TinyChat, alice.');
    const now = JSON.parse(readFileSync(join(configDir, 'sessions.json'), 'utf8')).sessions[0];
    expect(now.token).not.to.equal(saved.token);
  });

  it('lists /SEARCH hits in a box and opens the conversation at the one chosen, loading older pages to reach it', async function () {
    const reader = await person('alice');
    let shown = 0;
    reader.on('message', () => (shown += 1));
    const carol = await person('carol');
    for (let i = 1; i <= 80; i += 1) carol.send('alice', i === 5 || i === 70 ? `message ${i} has the needle` : `message ${i}`);
    expect(await carol.drain(10_000)).to.equal(true);
    // Alice reads them elsewhere first, so the next start has them only in history.
    await eventually('all 80 shown', () => shown === 80);
    await reader.close();
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    alice.type('/SEARCH needle\r');
    await alice.see('Search: needle');
    const rows = () => rowsOf(alice.screen).join('\n');
    expect(rows()).to.match(/› carol .*carol: message 70 has the needle/);
    alice.type('\x1b[B');
    await eventually('the older hit selected', () => /› carol .*carol: message 5 has the needle/.test(rows()));
    alice.type('\r');
    await alice.see('carol  message 5 has the needle');
    expect(rows()).not.to.include('Search: needle');
    expect(rowsOf(alice.screen)[23]).to.match(/│ carol/);
  });

  it('scrolls the conversation with the mouse wheel, and leaves the mouse to the terminal after F2 until F2 again', async function () {
    const carol = await person('carol');
    const alice = open('alice');
    await alice.see('Welcome to TinyChat, alice.');
    for (let i = 1; i <= 40; i += 1) carol.send('alice', `message ${i}`);
    expect(await carol.drain(10_000)).to.equal(true);
    alice.type('\x1b1');
    // It opens at the "new messages" line; End goes to the newest.
    await alice.see('new messages');
    alice.type('\x1b[F');
    await alice.see('message 40');
    // xterm's report of the wheel turned up, and down, over the pane (column 40, row 10).
    const wheelUp = '\x1b[M`H*';
    const wheelDown = '\x1b[MaH*';
    expect(alice.everything()).to.include('\x1b[?1000h');
    alice.type(wheelUp);
    await eventually('scrolled back', () => rowsOf(alice.screen)[0].includes('newer below') && !screenText(alice.screen).includes('message 40'));
    alice.type(wheelDown);
    await eventually('back at the newest', () => screenText(alice.screen).includes('message 40') && !rowsOf(alice.screen)[0].includes('newer below'));
    alice.type('\x1bOQ');
    await alice.see('mouse off: select text with it as usual');
    expect(alice.everything().lastIndexOf('\x1b[?1000l')).to.be.greaterThan(alice.everything().lastIndexOf('\x1b[?1000h'));
    alice.type(wheelUp);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(rowsOf(alice.screen)[0]).not.to.include('newer below');
    alice.type('\x1bOQ');
    await alice.see('mouse on: the wheel scrolls');
    alice.type(wheelUp);
    await eventually('scrolled back again', () => rowsOf(alice.screen)[0].includes('newer below'));
  });
});

/** The login form's password row, from its label to the box's edge, trimmed: "Password" when empty. */
function passwordRow(screen: Parameters<typeof rowsOf>[0]): string {
  const row = rowsOf(screen).find((line) => line.includes('Password')) ?? '';
  return row.slice(row.indexOf('Password')).split('│')[0].trimEnd();
}
