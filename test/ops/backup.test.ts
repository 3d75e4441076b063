import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerFrame } from '../../src/gen/tinychat/v1/chat';
import { eventually } from '../support/eventually';
import { runCli } from '../support/cli';
import { WireClients, type WireClient } from '../support/grpc-client';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, NO_ABUSE_LIMIT_FLAGS, removeTempDirs } from '../support/test-server';

describe('tinychat backup and restore', function () {
  this.timeout(60_000);
  let server: ServerProcess | undefined;
  const wire = new WireClients(() => server!.target);
  const user = (name: string) => wire.user(name);
  const open = (client: WireClient) => wire.open(client);

  afterEach(async () => {
    wire.cancelStreams();
    wire.closeClients();
    await server?.stop('SIGKILL');
    server = undefined;
    removeTempDirs();
  });

  it('backs up a live database under load; the restored copy holds every message receipted before the backup began', async () => {
    const dir = makeTempDir();
    const db = join(dir, 'chat.db');
    const copy = join(dir, 'backup.db');
    server = await startServerProcess({ dbPath: db, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    const alice = await user('alice');
    await user('bob');
    const sending = open(alice);
    await sending.until('ready', (s) => s.frames.length > 0);

    // Alice sends without pause, 64 in flight, until told to stop.
    const receipted = new Map<number, number>(); // message id → bob's sequence
    let sent = 0;
    let stop = false;
    const WINDOW = 64;
    const body = (i: number) => `message ${i} `.padEnd(300, '·');
    const topUp = () => {
      while (!stop && sent - receipted.size < WINDOW) sending.send('bob', body(sent), `c${sent++}`);
    };
    sending.call.on('data', (frame: ServerFrame) => {
      for (const receipt of frame.receipts) receipted.set(receipt.id, receipt.sequence);
      topUp();
    });
    topUp();
    await eventually('some load', () => receipted.size >= 2000, 20_000);

    const beforeBackup = new Map(receipted);
    const backup = await runCli(['backup', '--db', db, copy]);
    const duringBackup = receipted.size - beforeBackup.size;
    stop = true;
    // Polled: the stream's own listener runs before the one above counts a frame's receipts.
    await eventually('the last receipts', () => receipted.size === sent, 10_000);
    expect(backup.code, backup.stderr).to.equal(0);
    expect(backup.stdout).to.include(`tinychat restore --db ${db} ${copy}`);
    expect(duringBackup, 'messages were stored while the backup ran').to.be.greaterThan(0);
    expect(sending.errors).to.deep.equal([]);

    // Restoring over the live database is refused, and leaves it alone.
    const refused = await runCli(['restore', '--db', db, copy]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(`${db} is open in another process`).and.include('stop tinychat serve');

    wire.cancelStreams();
    wire.closeClients();
    expect(await server.stop('SIGTERM')).to.equal(0);
    server = undefined;
    const restored = await runCli(['restore', '--db', db, copy]);
    expect(restored.code, restored.stderr).to.equal(0);
    expect(restored.stdout).to.include(`restored ${db} from ${copy}`);

    server = await startServerProcess({ dbPath: db, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    const bob = await user('bob');
    const inbox = open(bob);
    await inbox.until('the ready frame', (s) => s.frames.length > 0);
    const newest = inbox.frames[0].ready!.lastSequence;
    await inbox.until('the whole restored inbox', (s) => s.messages.length === newest, 20_000);
    const restoredIds = new Map(inbox.messages.map((m) => [m.id, m.sequence]));
    for (const [id, sequence] of beforeBackup) {
      expect(restoredIds.get(id), `message ${id}, receipted before the backup`).to.equal(sequence);
    }
    expect(inbox.messages.map((m) => m.sequence)).to.deep.equal(Array.from({ length: newest }, (_, i) => i + 1));
    expect(newest).to.be.at.least(beforeBackup.size).and.at.most(sent);
  });

  it('never writes over an existing file, and says which', async () => {
    const dir = makeTempDir();
    const db = join(dir, 'chat.db');
    server = await startServerProcess({ dbPath: db });
    const taken = join(dir, 'taken.db');
    writeFileSync(taken, 'precious');
    const result = await runCli(['backup', '--db', db, taken]);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include(`${taken} already exists`).and.include('pick a new name');
  });

  it('refuses to restore a file that is not a TinyChat database, before touching the database', async () => {
    const dir = makeTempDir();
    const db = join(dir, 'chat.db');
    const bogus = join(dir, 'bogus.db');
    writeFileSync(bogus, 'not a database at all\n'.repeat(100));
    const result = await runCli(['restore', '--db', db, bogus]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include(bogus).and.include('not an SQLite database');
    expect(existsSync(db)).to.equal(false);
  });

  it('names a database that is not there', async () => {
    const missing = join(makeTempDir(), 'missing.db');
    const result = await runCli(['backup', '--db', missing, join(makeTempDir(), 'out.db')]);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include(`there is no database at ${missing}`).and.include('--db');
  });

  it('points PostgreSQL users to pg_dump', async () => {
    const result = await runCli(['backup', '--db', 'postgres://postgres@127.0.0.1:5432/test', 'out.sql']);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include('pg_dump');
  });
});
