import { expect } from 'chai';
import { ChatConnection } from '../../../src/client/connection';
import { openTui, type TuiSession } from '../../../src/client/tui/run-tui';
import { eventually } from '../../support/eventually';
import { fakeTerminal, rowsOf, screenText, type FakeTerminal } from '../../support/fake-terminal';
import { TEST_PASSWORD } from '../../support/grpc-client';
import { removeTempDirs, startTestServer, type TestServer } from '../../support/test-server';

const FAST_BACKOFF = { initialMs: 20, maxMs: 200 };
const UP = '\x1b[A';

describe('the full-screen client with passwords', function () {
  let server: TestServer;
  let sessions: Array<{ session: TuiSession; terminal: FakeTerminal }>;

  beforeEach(async () => {
    server = await startTestServer();
    sessions = [];
  });

  afterEach(async () => {
    for (const { session, terminal } of sessions) {
      terminal.input.write('\x1b\x03');
      setTimeout(() => terminal.input.write('\x03'), 50).unref();
      await session.exit;
    }
    await server.stop();
    removeTempDirs();
  });

  function open(user: string | undefined, password: string | undefined = TEST_PASSWORD) {
    const terminal = fakeTerminal();
    const session = openTui({ server: server.target, user, password, input: terminal.input, output: terminal.output, terminal: 'xterm-256color', backoff: FAST_BACKOFF });
    sessions.push({ session, terminal });
    const see = (text: string, what = `"${text}" on the screen`) => eventually(what, () => screenText(session.screen).includes(text));
    const type = (keys: string) => terminal.input.write(keys);
    return { terminal, session, see, type, screen: session.screen, everything: () => terminal.written() };
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
});
