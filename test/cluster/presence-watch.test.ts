import { expect } from 'chai';
import { WireClients, type WireStream } from '../support/grpc-client';
import { eventually } from '../support/eventually';
import { startTwoNodes, type TwoNodes } from '../support/cluster';

/** The presence changes a stream received, as "name on" / "name off", in order. */
function seen(stream: WireStream): string[] {
  return stream.presence.map((p) => `${p.user} ${p.online ? 'on' : 'off'}`);
}

describe('watching presence across two server nodes', function () {
  this.timeout(30_000);
  let cluster: TwoNodes;
  let wire: WireClients;

  beforeEach(async function () {
    cluster = await startTwoNodes();
    wire = new WireClients(() => cluster.nodes[0].target);
  });

  afterEach(async function () {
    wire.cancelStreams();
    wire.closeClients();
    await cluster.stop();
  });

  it('tells a watcher on node A about a person connecting and leaving on node B, and nothing about others', async () => {
    const alice = await wire.user('alice', cluster.nodes[0].target);
    const bob = await wire.user('bob', cluster.nodes[1].target);
    const carol = await wire.user('carol', cluster.nodes[1].target);
    const watcher = wire.track(alice.converse(), (s) => s.resume(0, false, ['bob']));
    await watcher.until('bob’s current state', (s) => seen(s).includes('bob off'));
    const carolStream = wire.open(carol);
    const bobStream = wire.open(bob);
    await watcher.until('bob online on node B', (s) => seen(s).includes('bob on'));
    bobStream.cancel();
    carolStream.cancel();
    await watcher.until('bob offline', (s) => seen(s).filter((x) => x === 'bob off').length === 2);
    expect(seen(watcher)).to.deep.equal(['bob off', 'bob on', 'bob off']);
  });

  it('sends the current state of a person online only on the other node', async () => {
    const alice = await wire.user('alice', cluster.nodes[0].target);
    const bob = await wire.user('bob', cluster.nodes[1].target);
    const watcher = wire.track(alice.converse(), (s) => s.resume(0, false, []));
    await watcher.until('greeted', (s) => s.frames.length > 0);
    const bobStream = wire.open(bob);
    await bobStream.until('bob greeted', (s) => s.frames.length > 0);
    await eventually('node A to know bob is online', async () => {
      const response = await alice.command('/USERS');
      return response.result?.$case === 'users' && response.result.users.users.some((u) => u.name === 'bob' && u.online);
    });
    expect(seen(watcher), 'nothing while watching nobody').to.deep.equal([]);
    watcher.watch(['bob']);
    await watcher.until('bob’s current state', (s) => s.presence.length === 1);
    expect(seen(watcher)).to.deep.equal(['bob on']);
  });
});
