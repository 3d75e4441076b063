import { expect } from 'chai';
import { join } from 'node:path';
import { eventually, sleep } from '../support/eventually';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, NO_ABUSE_LIMIT_FLAGS, removeTempDirs } from '../support/test-server';
import { FAULT_SCALE, oneTo, scaled, scaledTimeout } from './fault-support';
import { watchConnection, type Watched } from '../support/connection-watcher';

/**
 * Several pairs chat through the real client while the server is killed
 * with SIGKILL and started again on the same database and port, more than
 * once when soaking. The clients reconnect and resume by themselves.
 */
describe('a server killed with SIGKILL while several pairs are sending', function () {
  this.timeout(scaledTimeout(40_000));
  const PAIRS = scaled(4, 20);
  const PER_SENDER = scaled(400);
  const KILLS = scaled(1, 10);
  const BURST = 4;
  const BURST_EVERY_MS = 4;

  let server: ServerProcess | undefined;
  const watched: Watched[] = [];
  const timers: NodeJS.Timeout[] = [];

  afterEach(async () => {
    for (const timer of timers.splice(0)) clearInterval(timer);
    await Promise.all(watched.splice(0).map((w) => w.connection.close()));
    await server?.stop('SIGKILL');
    server = undefined;
    removeTempDirs();
  });

  it('delivers every message whose receipt a sender saw exactly once and in order, and the rest once resent', async () => {
    const dbPath = join(makeTempDir(), 'chat.db');
    server = await startServerProcess({ dbPath, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    const port = server.port;
    const target = server.target;

    const pairs = await Promise.all(
      oneTo(PAIRS).map(async (i) => {
        const sender = watchConnection(target, `sender${i}`);
        const receiver = watchConnection(target, `receiver${i}`);
        watched.push(sender, receiver);
        await Promise.all([sender.connection.connect(), receiver.connection.connect()]);
        return { sender, receiver, receiverName: `receiver${i}`, sent: 0 };
      }),
    );
    const total = PAIRS * PER_SENDER;
    const receiptCount = () => pairs.reduce((n, p) => n + p.sender.receipts.length, 0);

    // Every sender sends steadily whether or not the server is up: the
    // client keeps unconfirmed sends and writes them again after reconnecting.
    for (const pair of pairs) {
      timers.push(
        setInterval(() => {
          for (let b = 0; b < BURST && pair.sent < PER_SENDER; b++) {
            pair.sender.connection.send(pair.receiverName, `message ${pair.sent}`);
            pair.sent++;
          }
        }, BURST_EVERY_MS),
      );
    }

    const stillSendingAtKill: boolean[] = [];
    const receiptsBeforeKill: number[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      const threshold = Math.floor((total * kill) / (KILLS + 2));
      await eventually(`${threshold} receipts before kill ${kill}`, () => receiptCount() >= threshold, scaledTimeout(15_000));
      receiptsBeforeKill.push(receiptCount());
      // Sends leave one at a time, so "still sending" means some are not yet confirmed.
      stillSendingAtKill.push(pairs.some((p) => p.sent < PER_SENDER || p.sender.connection.pendingSends().length > 0));
      expect(await server.stop('SIGKILL')).to.equal('SIGKILL');
      await sleep(150);
      server = await startServerProcess({ dbPath, port, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    }

    for (const pair of pairs) {
      expect(await pair.sender.connection.drain(scaledTimeout(20_000)), `${pair.sender.connection.user} got every receipt`).to.equal(true);
    }
    await eventually('every receiver has every message', () => pairs.every((p) => p.receiver.messages.length >= PER_SENDER), scaledTimeout(15_000));
    // Anything delivered twice would arrive within moments.
    await sleep(300);

    expect(stillSendingAtKill[0], 'the first kill came while messages were still being sent').to.equal(true);
    expect(receiptsBeforeKill[0]).to.be.greaterThan(0);
    for (const { sender, receiver } of pairs) {
      const who = receiver.connection.user;
      expect(sender.failures, `${who}: refused sends`).to.deep.equal([]);
      const bodies = receiver.messages.map((m) => m.body);
      expect(bodies, `${who}: every message once, in the order sent`).to.deep.equal(oneTo(PER_SENDER).map((i) => `message ${i - 1}`));
      expect(receiver.messages.map((m) => m.sequence), `${who}: sequences contiguous from 1`).to.deep.equal(oneTo(PER_SENDER));
      // A receipt names the stored message: the id and sequence it promised are what arrived.
      const arrived = new Map(receiver.messages.map((m) => [m.body, m]));
      const receiptsByBody = new Map<string, number>();
      for (const receipt of sender.receipts) {
        const delivered = arrived.get(receipt.message.body);
        expect(delivered, `${who}: receipted "${receipt.message.body}" arrived`).to.not.equal(undefined);
        expect({ id: delivered!.id, sequence: delivered!.sequence }).to.deep.equal({ id: receipt.message.id, sequence: receipt.message.sequence });
        receiptsByBody.set(receipt.message.body, (receiptsByBody.get(receipt.message.body) ?? 0) + 1);
      }
      expect(sender.receipts.length, `${who}: one receipt per send`).to.equal(PER_SENDER);
      expect(receiptsByBody.size).to.equal(PER_SENDER);
    }
    const reconnects = pairs.filter((p) => p.sender.states.some((s) => s.state === 'connected' && s.reconnect));
    expect(reconnects.length, 'every sender reconnected by itself').to.equal(PAIRS);
    if (FAULT_SCALE > 1) process.stderr.write(`      crash: ${PAIRS} pairs × ${PER_SENDER} messages, ${KILLS} kills\n`);
  });
});
