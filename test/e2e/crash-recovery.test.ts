import { expect } from 'chai';
import { join } from 'node:path';
import { makeTempDir, NO_ABUSE_LIMIT_FLAGS, removeTempDirs } from '../support/test-server';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { WireClient, type WireStream } from '../support/grpc-client';

/**
 * The promise that matters most: a message whose receipt the sender saw
 * survives kill -9 of the server, and after a restart on the same database
 * it is delivered exactly once, in order.
 */
describe('a server killed with SIGKILL mid-conversation', function () {
  this.timeout(60_000);
  let server: ServerProcess | undefined;
  const clients: WireClient[] = [];
  const streams: WireStream[] = [];

  afterEach(async () => {
    for (const stream of streams.splice(0)) if (!stream.status) stream.cancel();
    for (const client of clients.splice(0)) client.close();
    await server?.stop('SIGKILL');
    server = undefined;
    removeTempDirs();
  });

  async function login(name: string, target: string): Promise<WireClient> {
    const client = new WireClient(target);
    clients.push(client);
    await client.login(name);
    return client;
  }

  it('delivers every receipted message exactly once and in order after a restart on the same database', async () => {
    const dbPath = join(makeTempDir(), 'chat.db');
    server = await startServerProcess({ dbPath, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    const { port, target } = server;
    const alice = await login('alice', target);
    const bob = await login('bob', target);

    const bobStream = bob.converse();
    streams.push(bobStream);
    bobStream.resume();
    const aliceStream = alice.converse();
    streams.push(aliceStream);
    aliceStream.resume();

    // Alice sends steadily; the server dies while messages are in flight.
    const total = 400;
    let sent = 0;
    const sender = setInterval(() => {
      for (let burst = 0; burst < 20 && sent < total; burst++) {
        sent++;
        aliceStream.send('bob', `message ${sent}`, `c${sent}`);
      }
    }, 5);
    await aliceStream.until('some receipts', (s) => s.receipts.length >= 100, 10_000);
    await server.stop('SIGKILL');
    clearInterval(sender);
    await aliceStream.ended();
    await bobStream.ended();
    const receipted = new Set(aliceStream.receipts.map((r) => r.clientId));
    const bobSeen = bobStream.messages.map((m) => m.sequence);
    expect(receipted.size).to.be.at.least(100);

    server = await startServerProcess({ dbPath, port, extraArgs: NO_ABUSE_LIMIT_FLAGS });
    // The old tokens still work: sessions are stored.
    const aliceAgain = alice.converse();
    streams.push(aliceAgain);
    aliceAgain.resume();
    // Retry everything not receipted, in order, with the same client ids.
    const unconfirmed = Array.from({ length: sent }, (_, i) => i + 1).filter((i) => !receipted.has(`c${i}`));
    for (const i of unconfirmed) aliceAgain.send('bob', `message ${i}`, `c${i}`);
    await aliceAgain.until('receipts for the retries', (s) => s.receipts.length === unconfirmed.length, 15_000);

    const bobAgain = bob.converse();
    streams.push(bobAgain);
    bobAgain.resume(bobSeen.length ? bobSeen[bobSeen.length - 1] : 0);
    await bobAgain.until('everything', (s) => bobSeen.length + s.messages.length >= sent, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const delivered = [...bobStream.messages, ...bobAgain.messages];
    const sequences = delivered.map((m) => m.sequence);
    expect(sequences).to.deep.equal(Array.from({ length: sequences.length }, (_, i) => i + 1), 'contiguous, in order, no repeats');
    const bodies = delivered.map((m) => m.body);
    expect(new Set(bodies).size).to.equal(bodies.length, 'no message delivered twice');
    for (const clientId of receipted) {
      expect(bodies, `receipted ${clientId}`).to.include(`message ${clientId.slice(1)}`);
    }
    expect(bodies).to.have.length(sent);
  });
});
