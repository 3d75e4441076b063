import { expect } from 'chai';
import { join } from 'node:path';
import { listenForMetrics } from '../../src/ops/metrics-endpoint';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store';
import type { NewMessage } from '../../src/store/store';
import { RoomEvent, type Message } from '../../src/gen/tinychat/v1/chat';
import { eventually } from '../support/eventually';
import { WireClients } from '../support/grpc-client';
import { scrapeMetrics, value } from '../support/metrics-scrape';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

const DAY_MS = 86_400_000;

describe('--retention-days', function () {
  this.timeout(30_000);
  let server: TestServer | undefined;
  let child: ServerProcess | undefined;
  const readers: SqliteStore[] = [];
  const wire = new WireClients(() => server!.target);

  afterEach(async () => {
    wire.cancelStreams();
    await server?.stop();
    wire.closeClients();
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

  async function registered(dbPath: string, name: string): Promise<number> {
    const store = openSqliteStore(dbPath);
    const { user } = await store.registerUser(name, Date.now() - 10 * DAY_MS);
    await store.close();
    return user.id;
  }

  /**
   * Adds a room #general to the database: each member joins `joinedAge` ms
   * ago, in the order given, then the first member posts one message per
   * age, oldest first.
   */
  async function roomWith(dbPath: string, members: number[], joinedAge: number, ages: number[]): Promise<void> {
    const store = openSqliteStore(dbPath);
    const now = Date.now();
    let roomId = 0;
    for (const userId of members) {
      const limits = { maxMembers: 10, maxRooms: 10 };
      roomId = (await store.joinRoom({ name: '#general', userId, createPrivate: false, clientId: `j${userId}`, time: now - joinedAge, limits })).room.id;
    }
    for (const [i, age] of ages.entries()) {
      await store.postToRoom({ roomId, senderId: members[0], clientId: `r${i}`, body: `room aged ${age} ms`, time: now - age, event: 'message' });
    }
    await store.close();
  }

  /** The user's inbox as one line per entry, read from the file. */
  async function inboxOf(dbPath: string, userId: number): Promise<string[]> {
    const reader = openSqliteStore(dbPath);
    readers.push(reader);
    return (await reader.inboxAfter(userId, 0, 100)).map((m) => `${m.sequence} ${m.room ?? '-'} ${m.roomEvent ?? '-'} ${m.body}`);
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

  it('deletes room messages older than the given days for every member, and keeps the recent ones, the room and its members', async () => {
    const { dbPath, alice, bob } = await databaseWith([3 * DAY_MS]);
    await roomWith(dbPath, [alice, bob], 5 * DAY_MS, [4 * DAY_MS, 60_000]);
    const endpoint = await listenForMetrics('127.0.0.1', 0);
    server = await startTestServer({ dbPath, retentionDays: 2, metrics: endpoint });
    // One direct message, two joins and one room message.
    await eventually('the first pass', async () => value(await scrapeMetrics(endpoint.address), 'tinychat_messages_expired_total') === 4);

    const bobClient = await wire.user('bob');
    const history = await bobClient.command('/HISTORY #general');
    if (history.result?.$case !== 'roomHistory') throw new Error(history.text);
    expect(history.result.roomHistory.messages.map((m: Message) => m.body)).to.deep.equal([`room aged 60000 ms`]);
    // Bob's inbox: the direct message 1, his join 2, the two room messages 3 and 4; a resume from 0 gets the one left, at its number.
    const stream = wire.open(bobClient, 0);
    await stream.until('the recent room message', (s) => s.messages.some((m) => m.body === 'room aged 60000 ms'));
    expect(stream.messages.map((m) => [m.sequence, m.room, m.roomEvent, m.body])).to.deep.equal([[4, '#general', RoomEvent.ROOM_EVENT_UNSPECIFIED, 'room aged 60000 ms']]);
    const members = await bobClient.command('/MEMBERS #general');
    expect(members.text).to.include('alice').and.include('bob');
    expect(await inboxOf(dbPath, alice)).to.deep.equal(['4 #general message room aged 60000 ms']);
  });

  it('goes through old room messages of a room with more members than a batch deletes, in one pass', async () => {
    const { dbPath, alice, bob } = await databaseWith([]);
    const carol = await registered(dbPath, 'carol');
    // Each room message reaches three inboxes and a batch is two inbox
    // entries, so most batches come back short of the batch size.
    await roomWith(dbPath, [alice, bob, carol], 5 * DAY_MS, [4 * DAY_MS, 3 * DAY_MS, 60_000]);
    const endpoint = await listenForMetrics('127.0.0.1', 0);
    server = await startTestServer({ dbPath, retentionDays: 2, metrics: endpoint, retentionTimings: { batch: 2 } });
    // Three joins and two room messages, without waiting for the next pass (an hour away).
    await eventually('the first pass', async () => value(await scrapeMetrics(endpoint.address), 'tinychat_messages_expired_total') === 5);
    expect(await inboxOf(dbPath, alice)).to.deep.equal(['6 #general message room aged 60000 ms']);
    expect(await inboxOf(dbPath, bob)).to.deep.equal(['5 #general message room aged 60000 ms']);
    expect(await inboxOf(dbPath, carol)).to.deep.equal(['4 #general message room aged 60000 ms']);
  });

  it('is off by default: years-old messages stay', async () => {
    const { dbPath, alice, bob } = await databaseWith([3 * 365 * DAY_MS, 60_000]);
    child = await startServerProcess({ dbPath });
    expect(child.log()).to.include('retention=off');
    expect(await bodies(dbPath, alice, bob)).to.have.length(2);
  });

  it('is set with the flag, and says so when the server starts', async () => {
    const { dbPath, alice, bob } = await databaseWith([40 * DAY_MS, 60_000]);
    await roomWith(dbPath, [alice, bob], 45 * DAY_MS, [40 * DAY_MS]);
    child = await startServerProcess({ dbPath, extraArgs: ['--retention-days', '30'] });
    expect(child.log()).to.include('retention="30 days"');
    await eventually('the old message to go', async () => (await bodies(dbPath, alice, bob)).length === 1);
    // Counted together: the direct message, two joins and the room message.
    await eventually('the log line', () => /messages-expired count=4 room_messages=3 older_than=\S+Z/.test(child!.log()));
  });
});
