import { createHook } from 'node:async_hooks';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { isChatError } from '../../src/chat/errors';
import { openSqliteStore, SQLITE_SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite-store';
import type { NewMessage, UserRecord } from '../../src/store/store';
import { storeContract, type StoreFixture } from '../contract/store-contract';
import { makeTempDir as makeDir, removeTempDir } from '../support/temp-dir';

const makeTempDir = () => makeDir('tinychat-sqlite-', 'suite');

storeContract('SQLite file', async (): Promise<StoreFixture> => {
  const dir = makeTempDir();
  const file = path.join(dir, 'chat.db');
  const opened: SqliteStore[] = [openSqliteStore(file)];
  return {
    store: opened[0],
    reopen: async () => {
      const again = openSqliteStore(file);
      opened.push(again);
      return again;
    },
    cleanup: async () => {
      for (const store of opened) await store.close();
      removeTempDir(dir);
    },
  };
});

describe('SqliteStore', function () {
  let dir: string;
  let file: string;
  const stores: SqliteStore[] = [];

  function open(options?: Parameters<typeof openSqliteStore>[1], at = file): SqliteStore {
    const store = openSqliteStore(at, options);
    stores.push(store);
    return store;
  }

  beforeEach(function () {
    dir = makeTempDir();
    file = path.join(dir, 'chat.db');
  });

  afterEach(async function () {
    for (const store of stores.splice(0)) await store.close();
    removeTempDir(dir);
  });

  async function twoUsers(store: SqliteStore): Promise<[UserRecord, UserRecord]> {
    return [(await store.registerUser('ann', 1)).user, (await store.registerUser('bob', 1)).user];
  }

  function note(from: UserRecord, to: UserRecord, clientId: string, body = 'hi'): NewMessage {
    return { senderId: from.id, receiverId: to.id, clientId, body, time: 1 };
  }

  it('works in memory with ":memory:"', async function () {
    const store = open(undefined, ':memory:');
    const [ann, bob] = await twoUsers(store);
    await store.appendMessages([note(ann, bob, 'm1')]);
    expect((await store.inboxAfter(bob.id, 0, 10)).map((m) => m.clientId)).to.deep.equal(['m1']);
  });

  it('keeps a file in WAL mode, marked with the schema version', async function () {
    const store = open();
    expect(store.journalMode()).to.equal('wal');
    await store.close();
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('user_version', { simple: true })).to.equal(SQLITE_SCHEMA_VERSION);
    } finally {
      raw.close();
    }
  });

  it('checkpoints the WAL from a background thread, never inside a commit, and leaves an empty WAL on close', async function () {
    const store = open({ backgroundCheckpoints: true });
    const [ann, bob] = await twoUsers(store);
    for (let i = 0; i < 50; i++) await store.appendMessages([note(ann, bob, `m${i}`, 'x'.repeat(2000))]);
    const wal = `${file}-wal`;
    // Commits only append to the WAL (auto-checkpoint is off); the database
    // file grows only when the background thread copies pages into it.
    const before = fs.statSync(file).size;
    const deadline = Date.now() + 3000;
    while (fs.statSync(file).size <= before + 50 * 2000 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(fs.statSync(file).size).to.be.greaterThan(before + 50 * 2000);
    await store.close();
    expect(fs.existsSync(wal) ? fs.statSync(wal).size : 0).to.equal(0);
    const again = open();
    expect(await again.inboxAfter(bob.id, 0, 100)).to.have.length(50);
  });

  it('runs the checkpoint thread only after writes: none while nothing is written, one soon after a write', async function () {
    const store = open({ backgroundCheckpoints: true });
    const [ann, bob] = await twoUsers(store);
    await store.appendMessages([note(ann, bob, 'm1', 'before the quiet')]);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // Past one interval (250 ms), whatever the writes above asked for is done.
    await sleep(600);
    const quiet = store.checkpointsRun;
    expect(quiet).to.be.greaterThan(0);
    await sleep(1000);
    expect(store.checkpointsRun, 'checkpoints while nothing was written').to.equal(quiet);
    await store.appendMessages([note(ann, bob, 'm2', 'after the quiet')]);
    const deadline = Date.now() + 2000;
    while (store.checkpointsRun === quiet && Date.now() < deadline) await sleep(20);
    expect(store.checkpointsRun).to.equal(quiet + 1);
    // The write is in the database file itself: a copy without the WAL has it.
    const copy = path.join(dir, 'without-wal.db');
    fs.copyFileSync(file, copy);
    const raw = new Database(copy, { readonly: true });
    try {
      expect(raw.prepare('SELECT count(*) AS n FROM messages WHERE client_id = ?').get('m2')).to.deep.equal({ n: 1 });
    } finally {
      raw.close();
    }
  });

  function textIndexedUpTo(): number {
    const raw = new Database(file, { readonly: true });
    try {
      return (raw.prepare('SELECT indexed_id AS id FROM messages_text_position').get() as { id: number }).id;
    } finally {
      raw.close();
    }
  }

  /** Waits (up to 5 s) until the index timer has reached message `id`. */
  async function indexedUpTo(id: number): Promise<number> {
    const deadline = Date.now() + 5000;
    while (textIndexedUpTo() < id && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    return textIndexedUpTo();
  }

  it('indexes message text in batches outside the appends, and a search still sees every stored message', async function () {
    const store = open();
    const [ann, bob] = await twoUsers(store);
    // An append commits before its promise is made, so no index timer can run in between.
    const appends = [1, 2, 3].map((i) => store.appendMessages([note(ann, bob, `m${i}`, `lantern number ${i}`)]));
    // The appends committed without touching the full-text index.
    expect(textIndexedUpTo()).to.equal(0);
    await Promise.all(appends);
    const found = await store.search(bob.id, ['lantern'], 10);
    expect(found.map((m) => m.clientId).sort()).to.deep.equal(['m1', 'm2', 'm3']);
    expect(textIndexedUpTo()).to.equal(Math.max(...found.map((m) => m.id)));
  });

  it('indexes what arrived on its own within a couple of seconds, and on close', async function () {
    const store = open();
    const [ann, bob] = await twoUsers(store);
    const [{ message }] = await store.appendMessages([note(ann, bob, 'm1', 'ticking clock')]);
    expect(await indexedUpTo(message.id)).to.equal(message.id);
    const [{ message: last }] = await store.appendMessages([note(ann, bob, 'm2', 'closing time')]);
    await store.close();
    expect(textIndexedUpTo()).to.equal(last.id);
  });

  it('sets no timer while nothing is new to index, so an idle server is not woken for it', async function () {
    // Counts the callbacks of timers the store itself set.
    const storeTimers = new Set<number>();
    let fired = 0;
    const hook = createHook({
      init(id, type) {
        if (type !== 'Timeout') return;
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 50;
        if (/src[/\\]store[/\\]sqlite-store\.[jt]s/.test(new Error().stack ?? '')) storeTimers.add(id);
        Error.stackTraceLimit = limit;
      },
      before(id) {
        if (storeTimers.has(id)) fired++;
      },
    }).enable();
    try {
      const store = open();
      const [ann, bob] = await twoUsers(store);
      const [{ message }] = await store.appendMessages([note(ann, bob, 'm1', 'quiet hours')]);
      expect(await indexedUpTo(message.id)).to.equal(message.id);
      expect(fired, 'the timer that indexed the message').to.be.greaterThan(0);
      fired = 0;
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(fired, 'store timers run while idle').to.equal(0);
      // And the next message is indexed on its own again.
      const [{ message: next }] = await store.appendMessages([note(ann, bob, 'm2', 'quiet again')]);
      expect(await indexedUpTo(next.id)).to.equal(next.id);
    } finally {
      hook.disable();
    }
  });

  it('catches up with a large backlog in slices, letting other work run between them', async function () {
    const store = open();
    const [ann, bob] = await twoUsers(store);
    const total = 3000;
    const batch = Array.from({ length: total }, (_, i) => note(ann, bob, `b${i}`, `beacon ${i}`));
    const stored = await store.appendMessages(batch);
    const last = stored[stored.length - 1].message.id;
    // Watch the position from between the slices: it must be seen part-way.
    const seen = new Set<number>();
    const deadline = Date.now() + 10_000;
    while (textIndexedUpTo() < last && Date.now() < deadline) {
      seen.add(textIndexedUpTo());
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(textIndexedUpTo()).to.equal(last);
    const partWay = [...seen].filter((id) => id > 0 && id < last);
    expect(partWay.length, `positions seen: ${[...seen].join(', ')}`).to.be.greaterThan(1);
    expect(await store.search(bob.id, ['beacon'], 5)).to.have.length(5);
  });

  it('deletes messages the index has not reached yet without damaging the index', async function () {
    const store = open();
    const [ann, bob] = await twoUsers(store);
    await store.appendMessages([note(ann, bob, 'old1', 'harbour one'), note(ann, bob, 'old2', 'harbour two')]);
    expect(await store.search(bob.id, ['harbour'], 10)).to.have.length(2);
    await store.appendMessages([note(ann, bob, 'old3', 'harbour three'), note(ann, bob, 'old4', 'harbour four')]);
    // All four go: two indexed, two not yet.
    expect(await store.deleteMessagesBefore(2, 100)).to.equal(4);
    await store.appendMessages([{ ...note(ann, bob, 'new', 'harbour five'), time: 5 }]);
    expect((await store.search(bob.id, ['harbour'], 10)).map((m) => m.clientId)).to.deep.equal(['new']);
    await store.close();
    const raw = new Database(file);
    try {
      // FTS5 compares the index with the messages table and throws if they disagree.
      raw.prepare("INSERT INTO messages_text (messages_text, rank) VALUES ('integrity-check', 1)").run();
    } finally {
      raw.close();
    }
  });

  it('refuses a file written by a newer schema version and says what to do', function () {
    const raw = new Database(file);
    raw.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => open()).to.throw(/newer TinyChat.*run the newer version/);
  });

  it('can be closed twice', async function () {
    const store = open();
    await store.close();
    await store.close();
  });

  it('reports a full database as unavailable, keeps earlier messages, stores nothing of the batch, and recovers once there is room', async function () {
    const store = open();
    const [ann, bob] = await twoUsers(store);
    await store.appendMessages([note(ann, bob, 'small')]);
    store.setMaxPageCount(1); // clamps to the current size: no page left to grow into

    const big = 'x'.repeat(32 * 1024);
    let failure: unknown;
    try {
      await store.appendMessages([note(ann, bob, 'big1', big), note(ann, bob, 'big2', big)]);
    } catch (err) {
      failure = err;
    }
    expect(isChatError(failure, 'unavailable')).to.equal(true, String(failure));
    expect((failure as Error).message).to.match(/full.*try again later/);
    expect((await store.inboxAfter(bob.id, 0, 10)).map((m) => m.clientId)).to.deep.equal(['small']);
    expect((await store.findUserById(bob.id))?.lastSequence).to.equal(1);

    store.setMaxPageCount(1_000_000);
    const results = await store.appendMessages([note(ann, bob, 'big1', big), note(ann, bob, 'big2', big)]);
    expect(results.map((r) => [r.message.sequence, r.duplicate])).to.deep.equal([
      [2, false],
      [3, false],
    ]);
  });

  describe('after the process is killed', function () {
    let child: ChildProcess | undefined;

    afterEach(function () {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child = undefined;
    });

    it('still has a message whose append had resolved when the process got SIGKILL', async function () {
      const script = path.join(__dirname, 'append-then-wait.js');
      const proc = spawn(process.execPath, [script, file], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let stderr = '';
      proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));

      const storedId = await new Promise<number>((resolve, reject) => {
        let out = '';
        proc.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /^stored (\d+)\n/.exec(out);
          if (match) {
            proc.kill('SIGKILL');
            resolve(Number(match[1]));
          }
        });
        proc.on('exit', () => reject(new Error(`the child exited before storing: ${stderr}`)));
      });
      expect(await exited).to.equal('SIGKILL');
      expect(fs.statSync(`${file}-wal`).size).to.be.greaterThan(0, 'the commit should still sit in the WAL');

      const store = open();
      const bob = await store.findUserByName('bob');
      const inbox = await store.inboxAfter(bob?.id ?? -1, 0, 10);
      expect(inbox.map((m) => [m.id, m.clientId, m.body])).to.deep.equal([[storedId, 'before-kill', 'still here?']]);
    });
  });
});

describe('SqliteStore rooms migration', function () {
  it('upgrades a file from before rooms in place: its inboxes go on where they were, and rooms work', async function () {
    const dir = makeDir('tinychat-sqlite-');
    const file = path.join(dir, 'chat.db');
    try {
      let store = openSqliteStore(file);
      const ann = (await store.registerUser('ann', 1)).user;
      const bob = (await store.registerUser('bob', 1)).user;
      await store.appendMessages([{ senderId: ann.id, receiverId: bob.id, clientId: 'old', body: 'from before rooms', time: 1 }]);
      await store.close();
      // The file as it was before rooms: no room tables, version 5.
      const raw = new Database(file);
      raw.exec('DROP TABLE room_inbox; DROP TABLE room_messages; DROP TABLE room_members; DROP TABLE rooms;');
      // Nor the file column, which came after rooms.
      raw.exec('DROP INDEX messages_with_file; ALTER TABLE messages DROP COLUMN file;');
      raw.pragma('user_version = 5');
      raw.close();

      store = openSqliteStore(file);
      try {
        const { result } = await store.joinRoom({ name: '#new', userId: bob.id, createPrivate: false, clientId: 'j', time: 2, limits: { maxMembers: 10, maxRooms: 10 } });
        expect(result.message.sequence).to.equal(2);
        expect((await store.inboxAfter(bob.id, 0, 10)).map((m) => m.body || m.roomEvent)).to.deep.equal(['from before rooms', 'joined']);
      } finally {
        await store.close();
      }
      const check = new Database(file, { readonly: true });
      expect(check.pragma('user_version', { simple: true })).to.equal(SQLITE_SCHEMA_VERSION);
      check.close();
    } finally {
      removeTempDir(dir);
    }
  });
});
