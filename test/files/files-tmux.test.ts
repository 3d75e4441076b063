import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { eventually } from '../support/eventually';
import { TEST_PASSWORD } from '../support/grpc-client';
import { runPlainInMemory } from '../support/plain-run';
import { CLI, startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, removeTempDirs } from '../support/test-server';
import { shellQuote, Tmux } from '../support/tmux';

describe('an image in the full-screen client (tmux)', function () {
  this.timeout(45_000);
  let tmux: Tmux;
  let server: ServerProcess;

  before(async function () {
    await Tmux.check();
  });

  beforeEach(async function () {
    tmux = new Tmux();
    server = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db') });
  });

  afterEach(async function () {
    await tmux.kill();
    await server.stop('SIGKILL');
    removeTempDirs();
  });

  it('shows a preview of an image sent from the line client in coloured half blocks, and /SAVE saves it', async function () {
    const chat = [process.execPath, CLI, 'chat', '--server', server.target, '--user', 'bob'].map(shellQuote).join(' ');
    const shell = `env NCURSES_NO_UTF8_ACS=1 TERM=xterm-256color TINYCHAT_PASSWORD=${shellQuote(TEST_PASSWORD)} LANG=C.UTF-8 LC_ALL=C.UTF-8 sh -c ${shellQuote(`${chat}; exec sh`)}`;
    await tmux.start('bob', shell, 110, 40);
    await tmux.see('bob', 'Welcome to TinyChat, bob.');

    // Alice sends a picture from the line client: red on top, blue below.
    const dir = makeTempDir();
    const top = await sharp({ create: { width: 24, height: 8, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    const picture = await sharp({ create: { width: 24, height: 16, channels: 3, background: { r: 0, g: 0, b: 255 } } })
      .composite([{ input: top, top: 0, left: 0 }])
      .png()
      .toBuffer();
    const path = join(dir, 'sunset.png');
    writeFileSync(path, picture);
    const alice = runPlainInMemory(server.target, 'alice');
    alice.type('/START bob', `/SEND ${path}`);
    await eventually('the picture sent', () => alice.out().includes('sent sunset.png'));
    alice.end();
    expect(await alice.exit).to.equal(0);

    await tmux.line('bob', '/START alice');
    await tmux.see('bob', '[file] sunset.png (');
    const screen = await tmux.waitFor('bob', 'the preview', (s) => (s.match(/▀{24}/g) ?? []).length >= 8);
    expect(screen).to.include('image/png');
    const coloured = await tmux.screen('bob', true);
    // Red over red (the top half), then blue over blue: foreground and background escapes before the half blocks.
    const red = { fg: '(?:31|91|38;5;(?:1|9|196)|38;2;255;0;0)', bg: '(?:41|101|48;5;(?:1|9|196)|48;2;255;0;0)' };
    const blue = { fg: '(?:34|94|38;5;(?:4|12|21)|38;2;0;0;255)', bg: '(?:44|104|48;5;(?:4|12|21)|48;2;0;0;255)' };
    for (const [name, colour] of Object.entries({ red, blue })) {
      expect(coloured, name).to.match(new RegExp(`\\x1b\\[${colour.fg}m\\x1b\\[${colour.bg}m(?:▀){24}`));
    }

    const saveDir = makeTempDir();
    await tmux.line('bob', `/SAVE 1 ${saveDir}`);
    await tmux.see('bob', 'SHA-256 checked');
    expect(readFileSync(join(saveDir, 'sunset.png')).equals(picture)).to.equal(true);
  });
});
