import { expect } from 'chai';
import { join } from 'node:path';
import { makeTempDir, NO_ABUSE_LIMIT_FLAGS, removeTempDirs } from '../support/test-server';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { WireClient, type WireStream } from '../support/grpc-client';
import type { Message } from '../../src/gen/tinychat/v1/chat';

const FLAGS = [...NO_ABUSE_LIMIT_FLAGS, '--room-post-rate', '0'];

/**
 * A room's promise under a crash: every room message whose receipt its
 * sender saw survives kill -9 of the server, and every member gets each
 * exactly once, in one order, across the restart.
 */
describe('a server killed with SIGKILL mid-burst in a room', function () {
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

  function open(client: WireClient, after?: number): WireStream {
    const stream = client.converse();
    streams.push(stream);
    stream.resume(after);
    return stream;
  }

  it('gives every member every receipted message exactly once and in one order after a restart', async () => {
    const dbPath = join(makeTempDir(), 'chat.db');
    server = await startServerProcess({ dbPath, extraArgs: FLAGS });
    const { port, target } = server;
    const members = [await login('alice', target), await login('bob', target), await login('carol', target)];
    for (const member of members) await member.command('/JOIN #general');
    const before = members.map((m) => open(m));
    const [alice, bob] = before;

    // Alice and Bob post steadily; the server dies while posts are in flight.
    const total = 200;
    let sent = 0;
    const sender = setInterval(() => {
      for (let burst = 0; burst < 10 && sent < total; burst++) {
        sent++;
        (sent % 2 === 1 ? alice : bob).send('#general', `post ${sent}`, `p${sent}`);
      }
    }, 5);
    await alice.until('some receipts', (s) => s.receipts.length >= 30, 10_000);
    await server.stop('SIGKILL');
    clearInterval(sender);
    await Promise.all(before.map((s) => s.ended()));
    const receipted = new Set([...alice.receipts, ...bob.receipts].map((r) => r.clientId));
    expect(receipted.size).to.be.at.least(30);
    expect(sent).to.be.lessThan(total + 1);

    server = await startServerProcess({ dbPath, port, extraArgs: FLAGS });
    // Each poster retries what it did not see receipted, in order, with the same client ids.
    const [aliceAgain, bobAgain] = [open(members[0]), open(members[1])];
    const retries = (odd: boolean) =>
      Array.from({ length: sent }, (_, i) => i + 1).filter((i) => i % 2 === (odd ? 1 : 0) && !receipted.has(`p${i}`));
    for (const i of retries(true)) aliceAgain.send('#general', `post ${i}`, `p${i}`);
    for (const i of retries(false)) bobAgain.send('#general', `post ${i}`, `p${i}`);
    await aliceAgain.until('retry receipts', (s) => s.receipts.length === retries(true).length, 15_000);
    await bobAgain.until('retry receipts', (s) => s.receipts.length === retries(false).length, 15_000);

    // Carol resumes after the last sequence she saw.
    const carolBefore = before[2];
    const seen = carolBefore.messages.map((m) => m.sequence);
    const carolAgain = open(members[2], seen.at(-1) ?? 0);
    const posts = (list: Message[]) => list.filter((m) => m.body.startsWith('post '));
    await carolAgain.until('everything', (s) => posts([...carolBefore.messages, ...s.messages]).length >= sent, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const delivered = [...carolBefore.messages, ...carolAgain.messages];
    expect(delivered.map((m) => m.sequence)).to.deep.equal(delivered.map((_, i) => i + 1), 'contiguous, in order, no repeats');
    const bodies = posts(delivered).map((m) => m.body);
    expect(new Set(bodies).size).to.equal(bodies.length, 'no message delivered twice');
    expect(bodies).to.have.length(sent);
    for (const clientId of receipted) expect(bodies, `receipted ${clientId}`).to.include(`post ${clientId.slice(1)}`);
    // Each poster's own posts in the order they were sent.
    for (const parity of [1, 0]) {
      const own = bodies.map((b) => Number(b.slice(5))).filter((n) => n % 2 === parity);
      expect(own).to.deep.equal([...own].sort((a, b) => a - b));
    }
    // Alice's inbox, read back whole from the store, holds the room in the same order as Carol's.
    // (Nothing was acknowledged, so a resume from 0 starts at her first entry.)
    const aliceWhole = open(members[0], 0);
    await aliceWhole.until('alice’s whole inbox', (s) => posts(s.messages).length === sent, 15_000);
    expect(posts(aliceWhole.messages).map((m) => m.id)).to.deep.equal(posts(delivered).map((m) => m.id));
  });
});
