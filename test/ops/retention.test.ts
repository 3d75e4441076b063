import { expect } from 'chai';
import { join } from 'node:path';
import { listenForMetrics } from '../../src/ops/metrics-endpoint';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store';
import type { NewMessage } from '../../src/store/store';
import { eventually } from '../support/eventually';
import { scrapeMetrics, value } from '../support/metrics-scrape';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

const DAY_MS = 86_400_000;

describe('--retention-days', function () {
  this.timeout(30_000);
  let server: TestServer | undefined;
  let child: ServerProcess | undefined;
  const readers: SqliteStore[] = [];

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await child?.stop('SIGKILL');
    child = undefined;
    for (const reader of readers.splice(0)) await reader.close();
    removeTempDirs();
  });

  /** A database with alice and bob and one message from alice per age given, oldest first; resolves with its path and the pair. */
  async function databaseWith(ages: number[]): Promise<{ dbPath: string; alice: number; bob: number }> {
    const dbPath = join(makeTempDir(), 'chat.db');
    const store = openSqliteStore(dbPath);
    const now = Date.now();
    const alice = (await store.registerUser('alice', now - 10 * DAY_MS)).user.id;
    const bob = (await store.registerUser('bob', now - 10 * DAY_MS)).user.id;
    const messages: NewMessage[] = ages.map((age, i) => ({ senderId: alice, receiverId: bob, clientId: `m${i}`, body: `aged ${age} ms`, time: now - age }));
    await store.appendMessages(messages);
    await store.close();
    return { dbPath, alice, bob };
  }

  async function bodies(dbPath: string, alice: number, bob: number): Promise<string[]> {
    const reader = openSqliteStore(dbPath);
    readers.push(reader);
    return (await reader.conversation(alice, bob, { limit: 100 })).map((m) => m.body).reverse();
  }

  it('deletes messages older than the given days when the server starts, keeps the rest, and counts them', async () => {
    const { dbPath, alice, bob } = await databaseWith([5 * DAY_MS, 3 * DAY_MS, 2 * DAY_MS + 60_000, DAY_MS, 60_000]);
    const endpoint = await listenForMetrics('127.0.0.1', 0);
    server = await startTestServer({ dbPath, retentionDays: 2, metrics: endpoint });
    const scrape = await eventually('the first pass', async () => {
      const current = await scrapeMetrics(endpoint.address);
      return current.has('tinychat_messages_expired_total') && value(current, 'tinychat_messages_expired_total') === 3 && current;
    });
    expect(value(scrape, 'tinychat_messages_expired_total')).to.equal(3);
    expect(await bodies(dbPath, alice, bob)).to.deep.equal([`aged ${DAY_MS} ms`, 'aged 60000 ms']);
  });

  it('keeps going: a message that comes of age while the server runs is deleted at a later pass', async () => {
    const { dbPath, alice, bob } = await databaseWith([DAY_MS - 1500, 1000]);
    server = await startTestServer({ dbPath, retentionDays: 1, retentionTimings: { intervalMs: 200 } });
    expect(await bodies(dbPath, alice, bob)).to.have.length(2);
    await eventually('the message to come of age and go', async () => (await bodies(dbPath, alice, bob)).length === 1, 10_000);
    expect(await bodies(dbPath, alice, bob)).to.deep.equal(['aged 1000 ms']);
  });

  it('is off by default: years-old messages stay', async () => {
    const { dbPath, alice, bob } = await databaseWith([3 * 365 * DAY_MS, 60_000]);
    child = await startServerProcess({ dbPath });
    expect(child.log()).to.include('retention=off');
    expect(await bodies(dbPath, alice, bob)).to.have.length(2);
  });

  it('is set with the flag, and says so when the server starts', async () => {
    const { dbPath, alice, bob } = await databaseWith([40 * DAY_MS, 60_000]);
    child = await startServerProcess({ dbPath, extraArgs: ['--retention-days', '30'] });
    expect(child.log()).to.include('retention="30 days"');
    await eventually('the old message to go', async () => (await bodies(dbPath, alice, bob)).length === 1);
    await eventually('the log line', () => /messages-expired count=1 older_than=\S+Z/.test(child!.log()));
  });
});
