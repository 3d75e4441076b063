import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { MAX_WATCHED_USERS } from '../../src/chat/watch-list';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { WireClients, type WireClient, type WireStream } from '../support/grpc-client';

/** The presence changes a stream received, as "name on" / "name off", in order. */
function seen(stream: WireStream): string[] {
  return stream.presence.map((p) => `${p.user} ${p.online ? 'on' : 'off'}`);
}

describe('a stream watching the presence of the people it shows', () => {
  let server: TestServer;
  const wire = new WireClients(() => server.target);
  const user = (name: string) => wire.user(name);

  /** A stream of `client` that watches `users` from its resume on, once greeted. */
  async function watching(client: WireClient, users: string[]): Promise<WireStream> {
    const stream = wire.track(client.converse(), (s) => s.resume(0, false, users));
    await stream.until('the greeting', (s) => s.frames.some((f) => f.ready !== undefined));
    return stream;
  }

  /** Opens a stream of `client` (announcing them online) and returns it. */
  function online(client: WireClient): WireStream {
    return wire.open(client);
  }

  beforeEach(async () => {
    server = await startTestServer();
  });

  afterEach(async () => {
    wire.cancelStreams();
    await server.stop();
    wire.closeClients();
    removeTempDirs();
  });

  it('is told the current state of each watched person at once, with when an offline one was last seen', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await user('carol');
    const bobStream = online(bob);
    await bobStream.until('bob greeted', (s) => s.frames.length > 0);
    const a = await watching(alice, ['BOB', 'carol']);
    await a.until('both states', (s) => s.presence.length === 2);
    expect(seen(a)).to.have.members(['bob on', 'carol off']);
    const carol = a.presence.find((p) => p.user === 'carol')!;
    expect(carol.lastSeen).to.be.instanceOf(Date);
    expect(carol.lastSeen!.getTime()).to.be.greaterThan(0).and.at.most(Date.now());
  });

  it('gets the online and offline changes of a watched person and nothing about anyone else', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const a = await watching(alice, ['bob']);
    await a.until('bob’s current state', (s) => seen(s).includes('bob off'));
    const c = online(carol);
    const b = online(bob);
    await a.until('bob online', (s) => seen(s).includes('bob on'));
    b.cancel();
    c.cancel();
    await a.until('bob offline again', (s) => seen(s).filter((x) => x === 'bob off').length === 2);
    expect(seen(a)).to.deep.equal(['bob off', 'bob on', 'bob off']);
    expect(a.errors).to.deep.equal([]);
  });

  it('follows a watch set replaced mid-stream, sending the newcomer’s state at once', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const a = await watching(alice, ['bob']);
    await a.until('bob’s state', (s) => s.presence.length === 1);
    const c = online(carol);
    await c.until('carol greeted', (s) => s.frames.length > 0);
    a.watch(['Carol']);
    await a.until('carol’s current state', (s) => seen(s).includes('carol on'));
    const b = online(bob);
    await b.until('bob greeted', (s) => s.frames.length > 0);
    c.cancel();
    await a.until('carol offline', (s) => seen(s).includes('carol off'));
    // bob came online before carol went offline: had it been sent, it would be here by now.
    expect(seen(a)).to.deep.equal(['bob off', 'carol on', 'carol off']);
  });

  it('follows the last of several watch frames sent at once', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const a = await watching(alice, []);
    a.watch(['bob', 'dave-unknown']);
    a.watch(['carol']);
    await a.until('carol’s state and the refusal of the unknown name', (s) => seen(s).includes('carol off') && s.errors.length === 1);
    const b = online(bob);
    await b.until('bob greeted', (s) => s.frames.length > 0);
    online(carol);
    await a.until('carol online', (s) => seen(s).includes('carol on'));
    expect(seen(a)).to.not.include('bob on');
    expect(a.errors[0].code).to.equal(status.NOT_FOUND);
  });

  it('answers an unknown name with NOT_FOUND naming it, keeps the stream open and watches the rest', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a = await watching(alice, ['nobody-here', 'bob']);
    await a.until('the refusal', (s) => s.errors.length === 1);
    expect(a.errors[0].code).to.equal(status.NOT_FOUND);
    expect(a.errors[0].message).to.contain('"nobody-here"');
    await a.until('bob’s state', (s) => seen(s).includes('bob off'));
    online(bob);
    await a.until('bob online', (s) => seen(s).includes('bob on'));
    expect(a.status, 'the stream stays open').to.equal(undefined);
  });

  it('refuses names that are not user names, and more names than a stream may watch, with INVALID_ARGUMENT', async () => {
    const alice = await user('alice');
    await user('bob');
    const a = await watching(alice, ['bob', 'not a name!']);
    await a.until('the refusal', (s) => s.errors.length === 1);
    expect(a.errors[0].code).to.equal(status.INVALID_ARGUMENT);
    expect(a.errors[0].message).to.contain('"not a name!"').and.contain('not a valid user name');
    await a.until('bob’s state', (s) => seen(s).includes('bob off'));
    const tooMany = Array.from({ length: MAX_WATCHED_USERS + 1 }, (_, i) => `user${i}`);
    a.watch(tooMany);
    await a.until('the second refusal', (s) => s.errors.length === 2);
    expect(a.errors[1].code).to.equal(status.INVALID_ARGUMENT);
    expect(a.errors[1].message).to.contain(`at most ${MAX_WATCHED_USERS}`);
    expect(a.status, 'the stream stays open').to.equal(undefined);
  });

  it('keeps watching whom it watched before when a new list is refused as a whole', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const tooMany = Array.from({ length: MAX_WATCHED_USERS + 1 }, (_, i) => `user${i}`);
    // A watcher of everyone stays one.
    const a = wire.open(alice, undefined, true);
    await a.until('ready', (s) => s.frames.length > 0);
    a.watch(tooMany);
    await a.until('the refusal', (s) => s.errors.length === 1);
    expect(a.errors[0].code).to.equal(status.INVALID_ARGUMENT);
    const carolOnline = online(carol);
    await a.until('still everyone: carol online', (s) => seen(s).includes('carol on'));
    // A watcher of a list keeps its list.
    const b = await watching(bob, ['carol']);
    await b.until('carol’s state', (s) => seen(s).includes('carol on'));
    b.watch(tooMany);
    await b.until('the refusal', (s) => s.errors.length === 1);
    carolOnline.cancel();
    await b.until('still carol: carol offline', (s) => seen(s).includes('carol off'));
  });

  it('still tells an everyone-watcher about everybody', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const a = wire.open(alice, undefined, true);
    await a.until('ready', (s) => s.frames.length > 0);
    online(bob);
    online(carol);
    await a.until('bob and carol online', (s) => seen(s).includes('bob on') && seen(s).includes('carol on'));
  });

  it('gives two streams of one user each their own watch set', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const first = await watching(alice, ['bob']);
    const second = await watching(alice, ['carol']);
    await first.until('bob’s state', (s) => s.presence.length === 1);
    await second.until('carol’s state', (s) => s.presence.length === 1);
    online(bob);
    online(carol);
    await first.until('bob online', (s) => seen(s).includes('bob on'));
    await second.until('carol online', (s) => seen(s).includes('carol on'));
    expect(seen(first)).to.deep.equal(['bob off', 'bob on']);
    expect(seen(second)).to.deep.equal(['carol off', 'carol on']);
  });

  it('takes a Watch as the first frame, starting delivery too', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    online(bob).send('alice', 'waiting for you', 'w1');
    const a = wire.track(alice.converse(), (s) => s.watch(['bob']));
    await a.until('the held message and bob’s state', (s) => s.messages.length === 1 && seen(s).includes('bob on'));
    expect(a.errors).to.deep.equal([]);
  });
});
