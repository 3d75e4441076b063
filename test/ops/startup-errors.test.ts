import { expect } from 'chai';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli';
import { makeTempDir, removeTempDirs } from '../support/test-server';

/** The user the permission cases run the server as: root may write anywhere. */
const NOBODY = 65534;

/** `tinychat serve` on a free port with `db`, run to its exit. */
function serve(db: string, options: { uid?: number; gid?: number } = {}): Promise<CliResult> {
  return runCli(['serve', '--port', '0', '--db', db, '--log-format', 'text'], options);
}

/** Exits 1 having said exactly one line on stderr, which names `path`; nothing on stdout. */
function expectOneLine(result: CliResult, path: string): string {
  expect(result.code, result.stderr).to.equal(1);
  expect(result.stdout).to.equal('');
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  expect(lines, result.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^tinychat: /).and.include(path);
  return lines[0];
}

/**
 * A temporary directory that user `nobody` may enter (the permission cases
 * run the server as nobody when the tests run as root, so that file modes
 * count; as any other user they run as that user).
 */
function enterableTempDir(): string {
  const dir = makeTempDir();
  chmodSync(dir, 0o755);
  return dir;
}

const asServiceUser = () => (process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {});
const serviceUserOwns = (path: string) => {
  if (process.getuid?.() === 0) chownSync(path, NOBODY, NOBODY);
};

describe('errors an operator can act on, at start', function () {
  this.timeout(30_000);
  const cleanups: Array<() => void> = [];

  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
    removeTempDirs();
  });

  describe('a second server on a port that is taken', function () {
    let blocker: Server;

    beforeEach(async () => {
      blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => blocker.close());
    });

    it('says so in one line, with no grpc-js noise, and opens no database', async () => {
      const port = (blocker.address() as { port: number }).port;
      const dir = makeTempDir();
      const result = await runCli(['serve', '--port', String(port), '--db', join(dir, 'chat.db'), '--log-format', 'text']);
      const line = expectOneLine(result, `127.0.0.1:${port}`);
      expect(line).to.equal(`tinychat: cannot listen on 127.0.0.1:${port}: the port is in use — stop the other server or pick another with --port`);
      expect(readdirSync(dir), 'files the second server left').to.deep.equal([]);
    });

    it('says so for a taken metrics port, also before the database', async () => {
      const port = (blocker.address() as { port: number }).port;
      const dir = makeTempDir();
      const result = await runCli(['serve', '--port', '0', '--metrics-address', `127.0.0.1:${port}`, '--db', join(dir, 'chat.db')]);
      const line = expectOneLine(result, `127.0.0.1:${port}`);
      expect(line).to.include('--metrics-address');
      expect(readdirSync(dir)).to.deep.equal([]);
    });
  });

  it('names a missing directory and how to create it', async () => {
    const missing = join(makeTempDir(), 'no', 'such', 'dir');
    const db = join(missing, 'chat.db');
    const line = expectOneLine(await serve(db), db);
    expect(line).to.include(`the directory ${missing} does not exist`).and.include(`mkdir -p ${missing}`);
  });

  it('names a read-only directory, whose user cannot write it, and what to change', async () => {
    const dir = join(enterableTempDir(), 'data');
    mkdirSync(dir, { mode: 0o555 });
    chmodSync(dir, 0o555);
    const db = join(dir, 'chat.db');
    const line = expectOneLine(await serve(db, asServiceUser()), db);
    expect(line).to.match(new RegExp(`the directory ${dir} is read-only for user \\S+ \\(uid \\d+\\)`)).and.include('chat.db-wal').and.include('chown or chmod');
    expect(existsSync(db)).to.equal(false);
  });

  it('names a read-only database file and what to change', async () => {
    const dir = join(enterableTempDir(), 'data');
    mkdirSync(dir);
    serviceUserOwns(dir);
    const db = join(dir, 'chat.db');
    writeFileSync(db, '');
    chmodSync(db, 0o444);
    const line = expectOneLine(await serve(db, asServiceUser()), db);
    expect(line).to.match(/the file is read-only for user \S+ \(uid \d+\)/).and.include('write access to it');
  });

  it('names a full disk and what to do', async () => {
    if (process.getuid?.() !== 0) throw new Error('this case mounts a small tmpfs, which needs root (CI runs as root)');
    const mount = makeTempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tinychat-test-full', mount]);
    cleanups.push(() => execFileSync('umount', [mount]));
    // Fill it: writing stops with ENOSPC.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(mount, 'filler')}`, 'bs=4096'], { stdio: 'ignore' });
    } catch {
      // dd exits 1 once the disk is full, which is the point.
    }
    const db = join(mount, 'chat.db');
    const line = expectOneLine(await serve(db), db);
    expect(line).to.include(`the disk holding ${mount} is full`).and.include('free some space');
  });

  it('names a database locked by another process, and what to stop', async () => {
    const db = join(makeTempDir(), 'chat.db');
    const holder = await holdWriteLock(db);
    cleanups.push(() => holder.kill('SIGKILL'));
    const line = expectOneLine(await serve(db), db);
    expect(line).to.include('another process holds a lock on it').and.include('Stop it');
  });

  it('names a file that is not a database', async () => {
    const db = join(makeTempDir(), 'notes.txt');
    writeFileSync(db, 'these are not the pages you are looking for\n'.repeat(200));
    const line = expectOneLine(await serve(db), db);
    expect(line).to.include('is not an SQLite database').and.include('tinychat restore');
  });
});

/** A process that opens `db` and holds its write lock until killed. */
function holdWriteLock(db: string): Promise<ChildProcess> {
  const script = `
    const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
    const db = new Database(${JSON.stringify(db)});
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS held (x); BEGIN IMMEDIATE; INSERT INTO held VALUES (1)');
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
  });
}
