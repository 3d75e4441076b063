import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { eventually } from '../support/eventually';
import { runPlainInMemory, type RunningPlainClient } from '../support/plain-run';
import { makeTempDir, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

describe('the line client\'s /SEND, /FILES and /SAVE', function () {
  this.timeout(30_000);
  let server: TestServer;
  let clients: RunningPlainClient[];
  let dir: string;

  beforeEach(async function () {
    server = await startTestServer();
    clients = [];
    dir = makeTempDir();
  });

  afterEach(async function () {
    for (const client of clients) client.end();
    await Promise.all(clients.map((c) => c.exit));
    await server.stop();
    removeTempDirs();
  });

  function run(user: string): RunningPlainClient {
    const client = runPlainInMemory(server.target, user);
    clients.push(client);
    return client;
  }

  /** Both users, logged in (a conversation needs its peer to exist). */
  async function pair(): Promise<[RunningPlainClient, RunningPlainClient]> {
    const both: [RunningPlainClient, RunningPlainClient] = [run('alice'), run('bob')];
    for (const client of both) client.type('/TIME');
    await eventually('both logged in', () => both.every((client) => client.out().length > 0));
    return both;
  }

  it('sends a file with progress on stderr and the outcome on stdout; the receiver sees it, lists it and saves it byte for byte', async function () {
    const bytes = randomBytes(2 * 1024 * 1024);
    const path = join(dir, 'build.tar');
    writeFileSync(path, bytes);
    const [alice, bob] = await pair();
    bob.type('/START alice');
    await eventually('bob\'s conversation', () => bob.out().includes('conversation with alice open'));
    alice.type('/START bob', `/SEND ${path}`, 'typed while the file moves');
    await eventually('the file sent', () => alice.out().includes('sent build.tar (2.0 MiB) to bob'), 15_000);
    expect(alice.err()).to.match(/sending .*build\.tar: 100% 2\.0 MiB of 2\.0 MiB/);

    await eventually('the file message and the text', () => bob.out().includes('typed while the file moves') && bob.out().includes('[file] build.tar'));
    expect(bob.out()).to.match(/\] alice: \[file\] build\.tar \(2\.0 MiB, application\/x-tar\)/);

    bob.type('/FILES');
    await eventually('the list', () => /1\. \[file\] build\.tar .* from alice/.test(bob.out()));
    const saveDir = makeTempDir();
    bob.type(`/SAVE 1 ${saveDir}`);
    await eventually('the file saved', () => bob.out().includes(`saved ${join(saveDir, 'build.tar')} (2.0 MiB, SHA-256 checked)`), 15_000);
    expect(readFileSync(join(saveDir, 'build.tar')).equals(bytes)).to.equal(true);
    expect(bob.err()).to.match(/saving build\.tar: 100%/);
  });

  it('asks before replacing a file of the same name: no keeps it, yes replaces it', async function () {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'from alice');
    const [alice, bob] = await pair();
    alice.type('/START bob', `/SEND ${path}`);
    await eventually('the file sent', () => alice.out().includes('sent notes.txt'));

    const saveDir = makeTempDir();
    const mine = join(saveDir, 'notes.txt');
    writeFileSync(mine, 'my own notes');
    bob.type('/START alice', `/SAVE ${saveDir}`, 'n');
    await eventually('the refusal', () => bob.out().includes(`not saved: ${mine} already exists`));
    expect(bob.err()).to.include(`${mine} already exists — replace it? [y/N]`);
    expect(readFileSync(mine, 'utf8')).to.equal('my own notes');

    bob.type(`/SAVE 1 ${saveDir}`, 'y');
    await eventually('the file replaced', () => bob.out().includes(`saved ${mine}`));
    expect(readFileSync(mine, 'utf8')).to.equal('from alice');
  });

  it('says what to do when there is nothing to send or save', async function () {
    const [alice] = await pair();
    alice.type(`/SEND ${join(dir, 'x')}`);
    await eventually('the first error', () => alice.err().includes('no conversation open — type /START <name> first, then /SEND <path>'));
    alice.type('/START bob', `/SEND ${join(dir, 'missing.bin')}`, '/SAVE 3');
    await eventually('the second error', () => alice.err().includes(`cannot read ${join(dir, 'missing.bin')}: ENOENT — check the path`));
    await eventually('the third error', () => alice.err().includes('there are no files in this conversation'));
    alice.end();
    expect(await alice.exit).to.equal(1);
  });
});
