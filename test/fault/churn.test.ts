import { expect } from 'chai';
import { join } from 'node:path';
import { openFds } from '../../scripts/bench/proc-stats';
import type { Message } from '../../src/gen/tinychat/v1/chat';
import { eventually, sleep } from '../support/eventually';
import type { WireStream } from '../support/grpc-client';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, NO_ABUSE_LIMIT_FLAGS, removeTempDirs } from '../support/test-server';
import { FAULT_SCALE, oneTo, openStreamsInLog, OwnConnectionClient, scaled, scaledTimeout } from './fault-support';
import { watchConnection, type Watched } from '../support/connection-watcher';

/** How a churning client leaves its stream. */
type Leave = 'cancel' | 'half-close' | 'drop-connection' | 'cancel-before-resume';
const LEAVES: Leave[] = ['cancel', 'half-close', 'drop-connection', 'cancel-before-resume'];

/**
 * Many clients open streams, resume where they were and leave again (in
 * every way a client can leave) while others chat and a feeder keeps
 * writing to the churning users. Nothing may be lost or doubled, and once
 * everyone has left the server holds no stream and no extra descriptor.
 */
describe('clients connecting, resuming and disconnecting while others chat', function () {
  this.timeout(scaledTimeout(40_000));
  const CHAT_PAIRS = scaled(3, 20);
  const PER_CHATTER = scaled(300);
  const CHURNERS = scaled(16, 200);
  const FEED_PER_CHURNER = scaled(25);
  const MAX_ROUNDS = 500;

  let server: ServerProcess | undefined;
  const connections: Watched[] = [];
  const clients: OwnConnectionClient[] = [];
  const streams: WireStream[] = [];
  const timers: NodeJS.Timeout[] = [];

  afterEach(async () => {
    for (const timer of timers.splice(0)) clearInterval(timer);
    for (const stream of streams.splice(0)) if (!stream.status) stream.cancel();
    for (const client of clients.splice(0)) client.close();
    await Promise.all(connections.splice(0).map((w) => w.connection.close()));
    await server?.stop('SIGKILL');
    server = undefined;
    removeTempDirs();
  });

  function wireClient(token?: string): OwnConnectionClient {
    const client = new OwnConnectionClient(server!.target, token);
    clients.push(client);
    return client;
  }

  function connection(user: string): Watched {
    const watched = watchConnection(server!.target, user);
    connections.push(watched);
    return watched;
  }

  /** Sends `count` messages from `from` to `to(i)`, one every `everyMs`; resolves when all are sent. */
  function sendSteadily(from: Watched, count: number, to: (i: number) => string, everyMs: number): Promise<void> {
    return new Promise((resolve) => {
      let i = 0;
      const timer = setInterval(() => {
        if (i >= count) {
          clearInterval(timer);
          resolve();
          return;
        }
        from.connection.send(to(i), `message ${i}`);
        i++;
      }, everyMs);
      timers.push(timer);
    });
  }

  it('loses and doubles nothing, and leaks no stream or file descriptor', async () => {
    server = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db'), extraArgs: NO_ABUSE_LIMIT_FLAGS });
    const pid = server.child.pid!;

    // One full visit first, so whatever the server opens once (database
    // files, worker threads) is open before the baseline is taken.
    const first = wireClient();
    await first.login('observer');
    const firstStream = first.converse();
    firstStream.resume();
    await firstStream.until('ready', (s) => s.frames.length > 0);
    await firstStream.finish();
    first.close();
    await eventually('the first visit is over', () => openStreamsInLog(server!.log()) === 0);
    await sleep(200);
    const baselineFds = openFds(pid);

    // Chatters: pairs on the real client, chatting through the churn.
    const chatters = await Promise.all(
      oneTo(CHAT_PAIRS).map(async (i) => {
        const sender = connection(`chatter${i}`);
        const receiver = connection(`listener${i}`);
        await Promise.all([sender.connection.connect(), receiver.connection.connect()]);
        return { sender, receiver, receiverName: `listener${i}` };
      }),
    );
    const churnerNames = oneTo(CHURNERS).map((i) => `churner${i}`);
    const feeder = connection('feeder');
    await feeder.connection.connect();
    const churnerClients = await Promise.all(
      churnerNames.map(async (name) => {
        const client = wireClient();
        await client.login(name);
        return client;
      }),
    );

    let feeding = true;
    const sending = Promise.all([
      ...chatters.map((pair) => sendSteadily(pair.sender, PER_CHATTER, () => pair.receiverName, 3)),
      sendSteadily(feeder, CHURNERS * FEED_PER_CHURNER, (i) => churnerNames[i % CHURNERS], 2).then(async () => {
        await feeder.connection.drain(scaledTimeout(10_000));
        feeding = false;
      }),
    ]);

    // Each churner keeps visiting while the feeder writes to it, leaving in
    // a different way each time, and resuming after the last message it got.
    let visits = 0;
    const churnStart = Date.now();
    const received = await Promise.all(
      churnerNames.map(async (name, index) => {
        let client = churnerClients[index];
        const got: Message[] = [];
        for (let round = 0; round < MAX_ROUNDS && feeding; round++) {
          const leave = LEAVES[(index + round) % LEAVES.length];
          const stream = client.converse();
          streams.push(stream);
          if (leave !== 'cancel-before-resume') stream.resume(got.length > 0 ? got[got.length - 1].sequence : undefined);
          await stream.until(`${name} ready`, (s) => s.frames.length > 0);
          await sleep((index * 7 + round * 13) % 30);
          switch (leave) {
            case 'cancel':
            case 'cancel-before-resume':
              stream.cancel();
              break;
            case 'half-close':
              stream.call.end();
              break;
            case 'drop-connection':
              // Closing the channel and cancelling closes the TCP connection itself.
              client.close();
              stream.cancel();
              client = wireClient(client.token);
              break;
          }
          await stream.ended();
          got.push(...stream.messages);
          visits++;
        }
        return got;
      }),
    );
    await sending;
    if (FAULT_SCALE > 1) process.stderr.write(`      churn: ${visits} visits by ${CHURNERS} churners, ${CHAT_PAIRS} pairs chatting, after ${Date.now() - churnStart} ms\n`);

    // Everyone left: each churner comes back once more for what is left.
    await Promise.all(
      churnerNames.map(async (name, index) => {
        const got = received[index];
        const client = wireClient(churnerClients[index].token);
        const stream = client.converse();
        streams.push(stream);
        stream.resume(got.length > 0 ? got[got.length - 1].sequence : undefined);
        await stream.until(`${name}'s last messages`, (s) => got.length + s.messages.length >= FEED_PER_CHURNER, scaledTimeout(10_000));
        await sleep(100);
        await stream.finish();
        got.push(...stream.messages);
        client.close();
      }),
    );
    for (const pair of chatters) expect(await pair.sender.connection.drain(scaledTimeout(10_000))).to.equal(true);
    await eventually('chatters got everything', () => chatters.every((p) => p.receiver.messages.length >= PER_CHATTER), scaledTimeout(10_000));

    expect(visits, 'visits made during the churn').to.be.at.least(CHURNERS * 2);
    received.forEach((got, index) => {
      const name = churnerNames[index];
      expect(got.map((m) => m.sequence), `${name}: sequences across all its streams`).to.deep.equal(oneTo(FEED_PER_CHURNER));
      const bodies = got.map((m) => Number(m.body.split(' ')[1]));
      expect(bodies, `${name}: the feeder's messages in order`).to.deep.equal(oneTo(FEED_PER_CHURNER).map((k) => (k - 1) * CHURNERS + index));
    });
    for (const { receiver, receiverName } of chatters) {
      expect(receiver.messages.map((m) => m.body), `${receiverName}: every message once, in order`).to.deep.equal(
        oneTo(PER_CHATTER).map((k) => `message ${k - 1}`),
      );
    }

    // Only the chatters and the feeder are connected now.
    await eventually('only the chatters’ and the feeder’s streams are open', () => openStreamsInLog(server!.log()) === CHAT_PAIRS * 2 + 1, 5000);
    const observer = wireClient();
    await observer.login('observer');
    const users = await observer.command('/USERS');
    const online = users.result?.$case === 'users' ? users.result.users.users.filter((u) => u.online).map((u) => u.name) : [];
    expect(online.sort()).to.deep.equal([...chatters.flatMap((p) => [p.sender.connection.user, p.receiverName]), 'feeder'].sort());
    observer.close();

    await Promise.all(connections.splice(0).map((w) => w.connection.close()));
    for (const client of clients.splice(0)) client.close();
    await eventually('no stream is open', () => openStreamsInLog(server!.log()) === 0, 5000);
    const fds = await eventually('the server is back to its file descriptors before the churn', () => {
      const now = openFds(pid);
      return now <= baselineFds ? now : false;
    }, 5000).catch(() => openFds(pid));
    expect(fds, `open descriptors after the churn (before: ${baselineFds})`).to.equal(baselineFds);
  });
});
