import { TEST_PASSWORD } from '../support/grpc-client';
import { expect } from 'chai';
import { join } from 'node:path';
import { CLI, startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, removeTempDirs } from '../support/test-server';
import { shellQuote, Tmux } from '../support/tmux';

function count(screen: string, text: string): number {
  return screen.split(text).length - 1;
}

describe('two people in real terminals (tmux)', function () {
  this.timeout(45_000);
  let tmux: Tmux;
  let server: ServerProcess;
  let dbPath: string;
  let configHome: string;

  before(async () => {
    await Tmux.check();
  });

  beforeEach(async () => {
    tmux = new Tmux();
    dbPath = join(makeTempDir(), 'chat.db');
    configHome = makeTempDir();
    server = await startServerProcess({ dbPath });
  });

  afterEach(async () => {
    await tmux.kill();
    await server.stop('SIGKILL');
    removeTempDirs();
  });

  /** Starts the client for `user` in a shell that stays after it exits, so the terminal can be checked. */
  async function client(user: string): Promise<void> {
    const chat = [process.execPath, CLI, 'chat', '--server', server.target, '--user', user].map(shellQuote).join(' ');
    // Plain box characters and UTF-8, whatever the machine's locale.
    // The saved session goes to a directory of the test's own, not the home directory.
    const shell = `env NCURSES_NO_UTF8_ACS=1 XDG_CONFIG_HOME=${shellQuote(configHome)} TINYCHAT_PASSWORD=${shellQuote(TEST_PASSWORD)} LANG=C.UTF-8 LC_ALL=C.UTF-8 PS1='$ ' sh -c ${shellQuote(`${chat}; echo "exited $?"; exec sh`)}`;
    await tmux.start(user, shell);
    await tmux.see(user, `Welcome to TinyChat, ${user}.`);
  }

  it('draws emoji made of several code points (👍🏽, 👨‍👩‍👧, 🇯🇵) without debris in the input line and the conversation', async () => {
    await client('alice');
    await client('bob');
    await tmux.line('alice', '/START bob');
    await tmux.see('alice', 'this is the start of your conversation with bob');
    const rows = async () => (await tmux.screen('alice')).split('\n');
    // tmux 3.3 draws 👍🏽 four columns wide, where the layout gives every emoji two; the
    // thumb is kept and the skin tone may be cut, but nothing shifts or stays behind.
    const thumb = '👍(?:🏽)?';
    const text = 'ok 👍🏽 then 👨‍👩‍👧 and 🇯🇵 end';
    const shown = new RegExp(`ok ${thumb} then 👨‍👩‍👧 and 🇯🇵 end`);
    await tmux.command('send-keys', '-t', 'alice', '-l', text);
    await tmux.waitFor('alice', 'the emoji typed', (s) => new RegExp(`^bob › ${shown.source}$`, 'm').test(s));
    // Moving back over the emoji and deleting them one by one leaves the rest in place.
    await tmux.keys('alice', 'C-a', 'Right', 'Right', 'Right', 'DC', 'Right', 'Right', 'Right', 'Right', 'Right', 'Right', 'DC');
    await tmux.waitFor('alice', 'two emoji deleted', (s) => /^bob › ok {2}then  and 🇯🇵 end$/m.test(s));
    await tmux.keys('alice', 'C-e', 'C-u');
    await tmux.waitFor('alice', 'the placeholder back', (s) => /^bob › message bob — Enter sends, F1 help$/m.test(s));
    await tmux.line('alice', text);
    await tmux.waitFor('alice', 'the sent mark', (s) => new RegExp(`\\d\\d:\\d\\d ✓ alice {2}${shown.source}$`, 'm').test(s));
    await tmux.waitFor('alice', 'the placeholder after sending', (s) => /^bob › message bob — Enter sends, F1 help$/m.test(s));
    // The rows around the emoji are whole: the divider and the status bar stand where they belong.
    for (const row of (await rows()).slice(0, 21)) expect(row, row).to.match(/^.{19}[│┴]/u);
    expect((await rows())[23]).to.match(/^ ● connected {2}alice @ 127\.0\.0\.1:\d+ │ bob +F1 help$/);
    await tmux.keys('bob', 'M-1');
    await tmux.waitFor('bob', 'the message at bob', (s) => new RegExp(`\\d\\d:\\d\\d {3}alice {2}${shown.source}$`, 'm').test(s));
  });

  it('lets Alice and Bob talk, survive a server restart with nothing lost or doubled, and leave with the terminal restored', async () => {
    await client('alice');
    await client('bob');

    await tmux.line('alice', '/START bob');
    await tmux.see('alice', 'this is the start of your conversation with bob');
    await tmux.line('alice', 'hi bob, lunch at noon? 🍜');
    await tmux.waitFor('alice', 'the sent mark', (s) => /\d\d:\d\d ✓ alice {2}hi bob, lunch at noon\? 🍜/.test(s));

    // Bob's conversation with Alice opened in the background, with one unread message.
    await tmux.waitFor('bob', 'the unread badge', (s) => /^ 1 ● alice +1 │/m.test(s));
    await tmux.keys('bob', 'M-1');
    await tmux.see('bob', 'alice  hi bob, lunch at noon? 🍜');
    await tmux.line('bob', 'sure, see you there');
    await tmux.see('alice', 'bob    sure, see you there');

    // The server goes away hard, and comes back on the same port with the same database.
    await server.stop('SIGKILL');
    await tmux.see('bob', 'reconnecting');
    await tmux.line('bob', 'typed while the server was down');
    await tmux.line('bob', 'and one more');
    await tmux.line('alice', 'me too, offline');
    await tmux.waitFor('bob', 'two pending marks', (s) => count(s, '… bob ') === 2 && s.includes('2 waiting'));
    server = await startServerProcess({ dbPath, port: server.port });

    const bobSays = ['sure, see you there', 'typed while the server was down', 'and one more'];
    const aliceScreen = await tmux.waitFor('alice', "all of Bob's messages", (s) => bobSays.every((text) => s.includes(text)) && s.includes('● connected'), 15_000);
    const bobScreen = await tmux.waitFor(
      'bob',
      'every message sent and marked',
      (s) => s.includes('alice  me too, offline') && !s.includes('… bob ') && s.includes('● connected'),
      15_000,
    );
    for (const text of bobSays) expect(count(aliceScreen, text), text).to.equal(1);
    expect(count(bobScreen, 'me too, offline')).to.equal(1);
    expect(count(bobScreen, 'hi bob, lunch at noon?')).to.equal(1);
    expect(count(bobScreen, '✓ bob ')).to.equal(3);

    // /QUIT gives the terminal back: the shell reads and echoes a line again.
    await tmux.line('bob', '/QUIT');
    await tmux.see('bob', 'exited 0');
    await tmux.line('bob', 'echo "restored-$((40 + 2))"');
    const after = await tmux.see('bob', 'restored-42');
    expect(after).not.to.include('Conversations');
  });
});
