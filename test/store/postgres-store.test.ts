import { expect } from 'chai';
import pg from 'pg';
import { isChatError } from '../../src/chat/errors';
import type { Logger } from '../../src/log';
import { redactedUrl } from '../../src/store/postgres-errors';
import { POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres-schema';
import { openPostgresStore, PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres-store';
import type { NewMessage, UserRecord } from '../../src/store/store';
import { storeContract, type StoreFixture } from '../contract/store-contract';

// CI starts PostgreSQL (.ci/run, ensure_postgres): when it is not there the
// tests fail, saying so, rather than skip.
const POSTGRES_URL = process.env.TINYCHAT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let schemaCounter = 0;
/** A schema name no other test (or test process) uses. */
function freshSchema(): string {
  return `tc_test_${process.pid}_${++schemaCounter}`;
}

async function open(schema: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  try {
    return await openPostgresStore(POSTGRES_URL, { schema, maxConnections: 4, ...options });
  } catch (err) {
    throw new Error(
      `the PostgreSQL tests need a server at ${redactedUrl(POSTGRES_URL)} (set TINYCHAT_TEST_POSTGRES_URL to use another): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Runs `work` on a connection of its own, closed afterwards. */
async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  await admin((client) => client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`));
}

storeContract('PostgreSQL', async (): Promise<StoreFixture> => {
  const schema = freshSchema();
  const opened: PostgresStore[] = [await open(schema)];
  return {
    store: opened[0],
    reopen: async () => {
      const again = await open(schema);
      opened.push(again);
      return again;
    },
    cleanup: async () => {
      for (const store of opened) await store.close();
      await dropSchema(schema);
    },
  };
});

function note(from: UserRecord, to: UserRecord, clientId: string, body = 'hi'): NewMessage {
  return { senderId: from.id, receiverId: to.id, clientId, body, time: 1 };
}

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('PostgresStore', function () {
  let schema: string;
  const stores: PostgresStore[] = [];

  async function node(options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const store = await open(schema, options);
    stores.push(store);
    return store;
  }

  beforeEach(function () {
    schema = freshSchema();
  });

  afterEach(async function () {
    for (const store of stores.splice(0)) await store.close();
    await dropSchema(schema);
  });

  describe('opening', function () {
    it('migrates a fresh schema once when several nodes start at the same moment', async function () {
      for (let round = 0; round < 4; round++) {
        if (round > 0) {
          for (const store of stores.splice(0)) await store.close();
          await dropSchema(schema);
          schema = freshSchema();
        }
        const [a, b, c] = await Promise.all([node(), node(), node()]);
        const rows = await admin((client) => client.query(`SELECT version FROM ${schema}.schema_version`));
        expect(rows.rows).to.deep.equal([{ version: POSTGRES_SCHEMA_VERSION }]);
        const { user } = await a.registerUser('Ann', 1);
        expect(await b.findUserByName('ann')).to.deep.equal(user);
        expect(await c.findUserById(user.id)).to.deep.equal(user);
      }
    });

    it('refuses a schema written by a newer version and says what to do', async function () {
      await (await node()).close();
      await admin((client) => client.query(`UPDATE ${schema}.schema_version SET version = version + 1`));
      let failure: unknown;
      await openPostgresStore(POSTGRES_URL, { schema }).catch((err) => (failure = err));
      expect(String(failure)).to.match(/newer TinyChat.*run the newer version/);
    });

    it('names the server it cannot reach, without its password', async function () {
      let failure: unknown;
      await openPostgresStore('postgres://tc:s3cret@127.0.0.1:1/test', { schema }).catch((err) => (failure = err));
      const message = (failure as Error).message;
      expect(message).to.equal('cannot reach PostgreSQL at postgres://tc@127.0.0.1:1/test — is it running? (ECONNREFUSED)');
      expect(message).to.not.include('s3cret');
    });

    it('refuses a schema name that would need quoting', async function () {
      let failure: unknown;
      await openPostgresStore(POSTGRES_URL, { schema: 'Bad-Name' }).catch((err) => (failure = err));
      expect(String(failure)).to.match(/not a schema name TinyChat can use/);
    });

    it('can be closed twice', async function () {
      const store = await node();
      await store.close();
      await store.close();
    });
  });

  describe('shared by two nodes', function () {
    it('keeps inboxes numbered without gaps or repeats while both nodes append to them at once', async function () {
      const [a, b] = await Promise.all([node({ maxConnections: 6 }), node({ maxConnections: 6 })]);
      const rita = (await a.registerUser('rita', 1)).user;
      const uma = (await a.registerUser('uma', 1)).user;
      const sam = (await a.registerUser('sam', 1)).user;
      const tess = (await b.registerUser('tess', 1)).user;

      // Each node sends 500 messages to rita from its own sender, in batches of
      // 1–12 from three loops at once; every batch also writes to uma, one
      // node before rita and the other after, so batches with common receivers
      // in opposite orders meet all the time.
      async function sendAll(store: PostgresStore, from: UserRecord, prefix: string, umaFirst: boolean): Promise<number[]> {
        let next = 0;
        const ritaSequences: number[] = [];
        const loop = async () => {
          while (next < 500) {
            const size = Math.min(500 - next, 1 + Math.floor(Math.random() * 12));
            const batch = Array.from({ length: size }, () => note(from, rita, `${prefix}${next++}`));
            const extra = note(from, uma, `${prefix}uma${next}`);
            const results = await store.appendMessages(umaFirst ? [extra, ...batch] : [...batch, extra]);
            for (const r of results) if (r.message.receiverId === rita.id) ritaSequences.push(r.message.sequence);
            expect(results.every((r) => !r.duplicate)).to.equal(true);
          }
        };
        await Promise.all([loop(), loop(), loop()]);
        return ritaSequences;
      }
      const [fromA, fromB] = await Promise.all([sendAll(a, sam, 'a', true), sendAll(b, tess, 'b', false)]);

      expect([...fromA, ...fromB].sort((x, y) => x - y)).to.deep.equal(oneTo(1000));
      const inbox = await b.inboxAfter(rita.id, 0, 2000);
      expect(inbox.map((m) => m.sequence)).to.deep.equal(oneTo(1000));
      expect(inbox.every((m, i) => i === 0 || m.id > inbox[i - 1].id)).to.equal(true, 'ids increase with the sequence in one inbox');
      expect((await a.findUserById(rita.id))?.lastSequence).to.equal(1000);
      const umaInbox = await a.inboxAfter(uma.id, 0, 2000);
      expect(umaInbox.map((m) => m.sequence)).to.deep.equal(oneTo(umaInbox.length));
      expect((await b.findUserById(uma.id))?.lastSequence).to.equal(umaInbox.length);
    });

    it('stores a send that reaches both nodes at once exactly once and uses up no sequence number', async function () {
      const [a, b] = await Promise.all([node(), node()]);
      const ann = (await a.registerUser('ann', 1)).user;
      const bob = (await a.registerUser('bob', 1)).user;
      const rounds = 40;
      for (let i = 0; i < rounds; i++) {
        const same = note(ann, bob, `same-${i}`, `retry ${i}`);
        // Each node's batch also carries a message of its own, which the
        // node that loses the race must still store.
        const [viaA, viaB] = await Promise.all([
          a.appendMessages([same, note(ann, bob, `only-a-${i}`)]),
          b.appendMessages([note(ann, bob, `only-b-${i}`), same]),
        ]);
        const pair = [viaA[0], viaB[1]];
        expect(pair.map((r) => r.duplicate).sort()).to.deep.equal([false, true], `round ${i}`);
        expect(pair[0].message).to.deep.equal(pair[1].message);
        expect(viaA[1].duplicate || viaB[0].duplicate).to.equal(false);
      }
      const inbox = await a.inboxAfter(bob.id, 0, 1000);
      expect(inbox.map((m) => m.sequence)).to.deep.equal(oneTo(3 * rounds));
      expect(inbox.filter((m) => m.clientId.startsWith('same-'))).to.have.length(rounds);
      const [next] = await b.appendMessages([note(ann, bob, 'next')]);
      expect(next.message.sequence).to.equal(3 * rounds + 1);
    });

    it('lets a follower on one node see every session end from both nodes, never one with a lower id later', async function () {
      const [a, b, follower] = await Promise.all([node(), node(), node()]);
      const vic = (await a.registerUser('vic', 1)).user;
      let writing = true;
      const seen: number[] = [];
      const follow = async () => {
        let after = 0;
        for (;;) {
          const done = !writing;
          for (const end of await follower.sessionEndsAfter(after, 100)) {
            seen.push(end.id);
            after = end.id;
          }
          if (done) return;
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      const write = async (store: PostgresStore, tag: string) => {
        for (let i = 0; i < 40; i++) {
          await store.recordLogin({ user: { id: vic.id }, tokenHash: `${tag}${i}`, time: 1, expiresAt: 2 });
          await Promise.all([store.deleteSession(`${tag}${i}`, 'logout', i), store.deleteUserSessions(vic.id, 'disabled', i, `${tag}${i}`)]);
        }
      };
      const following = follow();
      await Promise.all([write(a, 'a'), write(a, 'x'), write(b, 'b'), write(b, 'y')]);
      writing = false;
      await following;
      const all = (await follower.sessionEndsAfter(0, 10_000)).map((end) => end.id);
      expect(seen).to.deep.equal(all);
      expect(all.length).to.be.at.least(160);
    });
  });

  describe('when its connections are terminated', function () {
    it('fails calls as unavailable or completes them, never crashes, and works again without being reopened', async function () {
      const appName = `tinychat-test-${process.pid}-terminated`;
      const logged: string[] = [];
      const logger: Logger = { info() {}, warn() {}, error: (event) => logged.push(event) };
      const store = await node({ applicationName: appName, maxConnections: 4, logger });
      const ann = (await store.registerUser('ann', 1)).user;
      const bob = (await store.registerUser('bob', 1)).user;

      const failures: unknown[] = [];
      const storedSequences: number[] = [];
      let sent = 0;
      let running = true;
      const traffic = async () => {
        while (running) {
          try {
            const [r] = await store.appendMessages([note(ann, bob, `t${sent++}`)]);
            storedSequences.push(r.message.sequence);
            await store.inboxAfter(bob.id, r.message.sequence - 1, 5);
          } catch (err) {
            failures.push(err);
          }
        }
      };
      const terminate = () =>
        admin((client) =>
          client.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`,
            [appName],
          ),
        );

      const loops = [traffic(), traffic(), traffic()];
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 60));
        await terminate();
      }
      running = false;
      await Promise.all(loops);
      // The connections ended above were busy or idle by chance; ended while
      // idle in the pool, PostgreSQL's notice is all there is to log, and
      // the log must say so. With the traffic stopped they are all idle.
      await terminate();
      const deadline = Date.now() + 5000;
      while (!logged.includes('postgres-connection-lost') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));

      for (const err of failures) {
        expect(isChatError(err, 'unavailable')).to.equal(true, String(err));
        expect((err as Error).message).to.match(/^the server cannot (store|read) messages right now \(.+\); try again later$/);
        expect((err as Error).cause).to.be.instanceOf(Error);
      }
      expect(storedSequences.length).to.be.greaterThan(0);

      // Once PostgreSQL has told the idle connections they are gone, the pool
      // has dropped them: the same store works again.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const [after] = await store.appendMessages([note(ann, bob, 'after')]);
      const inbox = await store.inboxAfter(bob.id, 0, 10_000);
      expect(inbox.map((m) => m.sequence)).to.deep.equal(oneTo(inbox.length));
      expect(after.message.sequence).to.equal(inbox.length);
      for (const sequence of storedSequences) expect(inbox[sequence - 1].sequence).to.equal(sequence);
      expect(logged).to.include('postgres-connection-lost');
    });
  });
});

describe('PostgresStore rooms migration', function () {
  it('upgrades a schema from before rooms in place: its inboxes go on where they were, and rooms work', async function () {
    const schema = freshSchema();
    try {
      let store = await open(schema);
      const ann = (await store.registerUser('ann', 1)).user;
      const bob = (await store.registerUser('bob', 1)).user;
      await store.appendMessages([note(ann, bob, 'old', 'from before rooms')]);
      await store.close();
      // The schema as the previous version left it: no room tables, version 2.
      await admin((client) =>
        client.query(
          // Before rooms, and so before files too.
          `SET search_path = ${schema}; DROP TABLE room_inbox, room_messages, room_members, rooms; DROP TABLE file_uploads, file_upload_chunks, file_blobs, file_blob_chunks; ALTER TABLE messages DROP COLUMN file; UPDATE schema_version SET version = 2`,
        ),
      );

      store = await open(schema);
      try {
        const { result } = await store.joinRoom({ name: '#new', userId: bob.id, createPrivate: false, clientId: 'j', time: 2, limits: { maxMembers: 10, maxRooms: 10 } });
        expect(result.message.sequence).to.equal(2);
        expect((await store.inboxAfter(bob.id, 0, 10)).map((m) => m.body || m.roomEvent)).to.deep.equal(['from before rooms', 'joined']);
      } finally {
        await store.close();
      }
      const rows = await admin((client) => client.query(`SELECT version FROM ${schema}.schema_version`));
      expect(rows.rows[0].version).to.equal(POSTGRES_SCHEMA_VERSION);
    } finally {
      await dropSchema(schema);
    }
  });
});
