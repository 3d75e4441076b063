import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { RoomEvent } from '../../src/gen/tinychat/v1/chat';
import { WireClients, type WireStream } from '../support/grpc-client';
import { startTwoNodes, type TestNode, type TwoNodes } from '../support/cluster';

async function ready(stream: WireStream): Promise<WireStream> {
  await stream.until('the greeting', (s) => s.frames.some((f) => f.ready !== undefined));
  return stream;
}

describe('rooms with members spread over several nodes', function () {
  this.timeout(30_000);
  let cluster: TwoNodes;
  let nodes: TestNode[];
  let wire: WireClients;

  beforeEach(async function () {
    cluster = await startTwoNodes({ limits: { sendRate: { perSecond: 0, burst: 1 }, rooms: { maxMembers: 1000, maxRooms: 10, postRate: { perSecond: 0, burst: 1 } } } });
    nodes = cluster.nodes;
    wire = new WireClients(() => nodes[0].target);
  });

  afterEach(async function () {
    wire.cancelStreams();
    wire.closeClients();
    await cluster.stop();
  });

  const [A, B] = [0, 1];
  const user = (name: string, node: number) => wire.user(name, nodes[node].target);

  it('gives members on both nodes every message live, exactly once and in the same order, while both nodes post', async function () {
    const alice = await user('alice', A);
    const bob = await user('bob', B);
    const carol = await user('carol', B);
    await alice.command('/JOIN #general');
    await bob.command('/JOIN #general');
    await carol.command('/JOIN #general');
    const streams = await Promise.all([alice, bob, carol].map((c) => ready(wire.open(c))));
    for (let i = 1; i <= 15; i++) {
      streams[0].send('#general', `a${i}`, `a${i}`);
      streams[1].send('#general', `b${i}`, `b${i}`);
    }
    for (const stream of streams) await stream.until('30 messages', (s) => s.messages.filter((m) => m.body && m.room).length === 30);
    const orders = streams.map((s) => s.messages.filter((m) => m.room && m.roomEvent === RoomEvent.ROOM_EVENT_UNSPECIFIED).map((m) => m.id));
    expect(orders[1]).to.deep.equal(orders[0]);
    expect(orders[2]).to.deep.equal(orders[0]);
    expect(new Set(orders[0]).size).to.equal(30);
    for (const stream of streams) {
      const sequences = stream.messages.map((m) => m.sequence);
      expect(sequences).to.deep.equal(sequences.map((_, i) => sequences[0] + i));
    }
    const bodies = streams[2].messages.filter((m) => m.body).map((m) => m.body);
    expect(bodies.filter((b) => b.startsWith('a'))).to.deep.equal(Array.from({ length: 15 }, (_, i) => `a${i + 1}`));
    expect(bodies.filter((b) => b.startsWith('b'))).to.deep.equal(Array.from({ length: 15 }, (_, i) => `b${i + 1}`));
  });

  it('carries joins, leaves and kicks made on one node to members on the other, and the kicked member can no longer post there', async function () {
    const alice = await user('alice', A);
    const bob = await user('bob', B);
    await alice.command('/JOIN #ops private');
    const aliceStream = await ready(wire.open(alice));
    await alice.command('/INVITE #ops bob');
    await bob.command('/JOIN #ops');
    await aliceStream.until('bob’s join', (s) => s.messages.some((m) => m.roomEvent === RoomEvent.ROOM_EVENT_JOINED && m.sender === 'bob'));
    const bobStream = await ready(wire.open(bob));
    bobStream.send('#ops', 'hello from node b', 'b1');
    await aliceStream.until('bob’s message', (s) => s.messages.some((m) => m.body === 'hello from node b'));
    await alice.command('/KICK #ops bob');
    await bobStream.until('the kick', (s) => s.messages.some((m) => m.roomEvent === RoomEvent.ROOM_EVENT_KICKED));
    bobStream.send('#ops', 'still here?', 'b2');
    await bobStream.until('the refusal', (s) => s.errors.length === 1);
    // A private room he is no longer in nor invited to: to him it does not exist.
    expect(bobStream.errors[0].code).to.equal(status.NOT_FOUND);
    aliceStream.send('#ops', 'after the kick', 'a1');
    await aliceStream.until('the receipt', (s) => s.receipts.some((r) => r.clientId === 'a1'));
    // Node B would have had it by now; bob's inbox ends with the kick.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bobStream.messages.at(-1)?.roomEvent).to.equal(RoomEvent.ROOM_EVENT_KICKED);
  });

  it('delivers to a member who was offline when another node stored the room message', async function () {
    const alice = await user('alice', A);
    const bob = await user('bob', B);
    await alice.command('/JOIN #dev');
    await bob.command('/JOIN #dev');
    const aliceStream = await ready(wire.open(alice));
    for (let i = 1; i <= 5; i++) aliceStream.send('#dev', `n${i}`, `n${i}`);
    await aliceStream.until('receipts', (s) => s.receipts.length === 5);
    const bobStream = await ready(wire.open(bob));
    await bobStream.until('the backlog', (s) => s.messages.length === 6);
    expect(bobStream.messages.map((m) => m.body || 'joined')).to.deep.equal(['joined', 'n1', 'n2', 'n3', 'n4', 'n5']);
  });
});
