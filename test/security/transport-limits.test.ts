import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { ChatClient, ClientFrame, ServerFrame, type CommandResponse } from '../../src/gen/tinychat/v1/chat';
import { eventually, sleep } from '../support/eventually';
import { TEST_PASSWORD, WireClient, WireStream } from '../support/grpc-client';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { expectStatus } from '../support/expect-status';

const CONVERSE_METHOD = '/tinychat.v1.Chat/Converse';

/** Waits for the stream's greeting; fails with the stream's status if it ended instead. */
async function ready(stream: WireStream): Promise<WireStream> {
  await stream.until('the ready frame', (s) => s.frames.some((f) => f.ready !== undefined) || s.status !== undefined);
  if (stream.status) throw new Error(`the stream ended instead of greeting: ${JSON.stringify(stream.status)}`);
  return stream;
}

/** HTTP/2 frame types and the ACK flag (RFC 9113 §6). */
const FRAME = { settings: 0x4, ping: 0x6, goaway: 0x7 } as const;
const ACK = 0x1;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function http2Frame(type: number, flags: number, payload = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(0, 5);
  return Buffer.concat([header, payload]);
}

/**
 * A bare HTTP/2 peer on a raw TCP socket: it sends the connection preface
 * and an empty SETTINGS frame, acknowledges the server's SETTINGS, answers
 * PINGs only if told to, and never opens a stream. It stands for a client
 * that went silent (a laptop lid closed, a NAT entry dropped) or one that
 * connects and then does nothing.
 */
class RawPeer {
  readonly socket: Socket;
  readonly openedAt = Date.now();
  pings = 0;
  goaway = false;
  closedAt: number | undefined;
  private pending = Buffer.alloc(0);

  constructor(port: number, private readonly answerPings: boolean) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('connect', () => this.socket.write(Buffer.concat([PREFACE, http2Frame(FRAME.settings, 0)])));
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    // A reset is one way the server may drop the peer; the close that follows is what counts.
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closedAt = Date.now()));
  }

  get open(): boolean {
    return this.closedAt === undefined;
  }

  /** Milliseconds from connecting to the server closing the socket. */
  async closedAfter(timeoutMs: number): Promise<number> {
    await eventually('the server to close the raw connection', () => !this.open, timeoutMs);
    return this.closedAt! - this.openedAt;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 9) {
      const length = this.pending.readUIntBE(0, 3);
      if (this.pending.length < 9 + length) return;
      const type = this.pending[3];
      const flags = this.pending[4];
      const payload = this.pending.subarray(9, 9 + length);
      this.pending = this.pending.subarray(9 + length);
      if (type === FRAME.settings && !(flags & ACK)) this.socket.write(http2Frame(FRAME.settings, ACK));
      if (type === FRAME.ping && !(flags & ACK)) {
        this.pings += 1;
        if (this.answerPings) this.socket.write(http2Frame(FRAME.ping, ACK, Buffer.from(payload)));
      }
      if (type === FRAME.goaway) this.goaway = true;
    }
  }
}

describe('transport limits, enforced through real gRPC', function () {
  this.timeout(10_000);
  let server: TestServer | undefined;
  let clients: WireClient[];
  let channels: grpc.Client[];
  let streams: WireStream[];
  let peers: RawPeer[];

  beforeEach(() => {
    server = undefined;
    clients = [];
    channels = [];
    streams = [];
    peers = [];
  });

  afterEach(async () => {
    for (const stream of streams) if (stream.status === undefined) stream.cancel();
    await Promise.all(streams.map((s) => s.ended()));
    for (const client of clients) client.close();
    for (const channel of channels) channel.close();
    for (const peer of peers) peer.destroy();
    await server?.stop();
    removeTempDirs();
  });

  async function start(options: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
    server = await startTestServer(options);
    return server;
  }

  function wire(): WireClient {
    const client = new WireClient(server!.target);
    clients.push(client);
    return client;
  }

  async function loggedIn(name: string): Promise<WireClient> {
    const client = wire();
    await client.login(name);
    return client;
  }

  /**
   * A client on its own TCP connection: grpc-js otherwise shares one
   * connection between clients with the same target and options.
   */
  function ownConnection(): ChatClient {
    const channel = new ChatClient(server!.target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    channels.push(channel);
    return channel;
  }

  /** Opens a Converse stream with `token` on `channel` and sends resume. */
  function converse(channel: ChatClient, token: string): WireStream {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const stream = new WireStream(channel.converse(metadata));
    streams.push(stream);
    stream.resume(0);
    return stream;
  }

  function stream(client: WireClient): WireStream {
    const opened = client.converse();
    streams.push(opened);
    opened.resume(0);
    return opened;
  }

  function commandOn(channel: ChatClient, line: string, token?: string): Promise<CommandResponse> {
    const metadata = new grpc.Metadata();
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    return new Promise((resolve, reject) =>
      channel.command({ loginOnly: false, input: { $case: 'line', line } }, metadata, (err, response) => (err ? reject(err) : resolve(response!))),
    );
  }

  describe('connections per address', function () {
    it('refuses a connection over maxConnectionsPerAddress with RESOURCE_EXHAUSTED naming the limit, and admits it once one closes', async () => {
      await start({ limits: { maxConnectionsPerAddress: 2 } });
      // Logins run on a shared connection whose calls are over, so it no longer counts.
      const alice = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const carol = await loggedIn('carol');
      const [first, second, third] = [ownConnection(), ownConnection(), ownConnection()];
      const aliceStream = await ready(converse(first, alice.token!));
      await ready(converse(second, bob.token!));

      const refused = await converse(third, carol.token!).ended();
      expect(refused.code).to.equal(status.RESOURCE_EXHAUSTED);
      expect(refused.details).to.include('too many connections from 127.0.0.1 (at most 2)');
      const command = await expectStatus(commandOn(third, '/TIME', carol.token!), status.RESOURCE_EXHAUSTED);
      expect(command.details).to.include('at most 2');
      // More calls on a connection that already counts are no new connection.
      const aliceAgain = await ready(converse(first, alice.token!));

      aliceStream.cancel();
      aliceAgain.cancel();
      await eventually('the third connection to be admitted', () => commandOn(third, '/TIME', carol.token!).then(() => true, () => false), 3000);
      await ready(converse(third, carol.token!));
    });
  });

  describe('streams per user', function () {
    it('ends the stream over maxStreamsPerUser with RESOURCE_EXHAUSTED naming the limit, while the others keep working', async () => {
      await start({ limits: { maxStreamsPerUser: 2 } });
      const alice = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const first = await ready(stream(alice));
      const second = await ready(stream(alice));
      const third = stream(alice);
      const ended = await third.ended();
      expect(ended.code).to.equal(status.RESOURCE_EXHAUSTED);
      expect(ended.details).to.include('you already have 2 streams open');

      const bobStream = await ready(stream(bob));
      bobStream.send('alice', 'to both of alice’s streams', 'b1');
      await first.until('the message on the first stream', (s) => s.messages.some((m) => m.body === 'to both of alice’s streams'));
      await second.until('the message on the second stream', (s) => s.messages.some((m) => m.body === 'to both of alice’s streams'));
      first.send('bob', 'still sending', 'a1');
      await first.until('the receipt', (s) => s.receipts.some((r) => r.clientId === 'a1'));

      first.cancel();
      await eventually('room for another stream', async () => {
        const retry = stream(alice);
        await retry.until('an answer', (s) => s.frames.length > 0 || s.status !== undefined);
        return retry.status === undefined;
      }, 3000);
    });

    it('holds the limit when several streams of one user open at the same moment', async () => {
      await start({ limits: { maxStreamsPerUser: 2 } });
      const alice = await loggedIn('alice');
      const opened = Array.from({ length: 5 }, () => stream(alice));
      await Promise.all(opened.map((s) => s.until('an answer', (x) => x.frames.length > 0 || x.status !== undefined)));
      const refused = opened.filter((s) => s.status !== undefined);
      expect(opened.length - refused.length).to.equal(2);
      for (const s of refused) expect(s.status!.code).to.equal(status.RESOURCE_EXHAUSTED);
    });
  });

  describe('sizes', function () {
    const limits = { maxReceiveBytes: 2048, maxBodyBytes: 64 };

    it('refuses a body over maxBodyBytes, counted in UTF-8 bytes, per frame with INVALID_ARGUMENT naming the limit', async () => {
      await start({ limits });
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      const aliceStream = await ready(stream(alice));
      aliceStream.send('bob', 'x'.repeat(64), 'fits');
      aliceStream.send('bob', 'x'.repeat(65), 'one-byte-over');
      // 33 characters, but 66 bytes.
      aliceStream.send('bob', 'é'.repeat(33), 'wide');
      await aliceStream.until('three answers', (s) => s.receipts.length + s.errors.length === 3);
      expect(aliceStream.receipts.map((r) => r.clientId)).to.deep.equal(['fits']);
      for (const [clientId, bytes] of [['one-byte-over', 65], ['wide', 66]] as const) {
        const error = aliceStream.errors.find((e) => e.clientId === clientId)!;
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
        expect(error.message).to.include(`too long (${bytes} bytes): at most 64 bytes`);
      }
      expect(aliceStream.status).to.equal(undefined);
    });

    it('refuses a request over maxReceiveBytes with RESOURCE_EXHAUSTED naming the limit', async () => {
      await start({ limits });
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      const command = await expectStatus(alice.command(`/START ${'x'.repeat(3000)}`), status.RESOURCE_EXHAUSTED);
      expect(command.details).to.match(/larger than max \(\d+ vs\.? 2048\)/);

      const aliceStream = await ready(stream(alice));
      aliceStream.send('bob', 'y'.repeat(3000), 'huge');
      const ended = await aliceStream.ended();
      expect(ended.code).to.equal(status.RESOURCE_EXHAUSTED);
      expect(ended.details).to.match(/larger than max \(\d+ vs\.? 2048\)/);
      // The connection and the user are fine: a new stream works.
      const again = await ready(stream(alice));
      again.send('bob', 'small again', 'small');
      await again.until('the receipt', (s) => s.receipts.length === 1);
    });
  });

  describe('dead and idle connections', function () {
    it('drops a peer that stops answering pings within keepaliveMs + keepaliveTimeoutMs, and keeps one that answers', async () => {
      // grpc-js pings every connection, with calls or without, so a bare
      // HTTP/2 peer that never opens a stream is enough to show it; one that
      // answers the same pings shows it is the silence that gets it dropped.
      await start({ limits: { keepaliveMs: 200, keepaliveTimeoutMs: 200 } });
      const silent = new RawPeer(server!.port, false);
      const answering = new RawPeer(server!.port, true);
      peers.push(silent, answering);
      const droppedAfter = await silent.closedAfter(2000);
      expect(silent.pings).to.be.greaterThan(0);
      expect(droppedAfter).to.be.within(300, 2000);
      await sleep(Math.max(0, 1200 - (Date.now() - answering.openedAt)));
      expect(answering.open, 'the peer that answers pings was dropped').to.equal(true);
      expect(answering.pings).to.be.greaterThan(2);
    });

    it('closes a connection that never makes a call after idleTimeoutMs', async () => {
      await start({ limits: { idleTimeoutMs: 300 } });
      const idle = new RawPeer(server!.port, true);
      peers.push(idle);
      const closedAfter = await idle.closedAfter(2000);
      expect(closedAfter).to.be.within(250, 2000);
      expect(idle.goaway, 'the server said GOAWAY before closing').to.equal(true);
    });

    it('closes the connection of a client that only logged in after idleTimeoutMs, but keeps one with an open stream', async () => {
      await start({ limits: { idleTimeoutMs: 300 } });
      const loginOnly = ownConnection();
      const login = await commandOn(loginOnly, `/LOGIN alice ${TEST_PASSWORD}`);
      expect(login.result?.$case).to.equal('login');
      expect(loginOnly.getChannel().getConnectivityState(false)).to.equal(grpc.connectivityState.READY);
      await eventually('the idle connection to be closed', () => loginOnly.getChannel().getConnectivityState(false) === grpc.connectivityState.IDLE, 2000);

      const bob = await loggedIn('bob');
      const busy = ownConnection();
      const bobStream = await ready(converse(busy, bob.token!));
      await sleep(900);
      expect(busy.getChannel().getConnectivityState(false)).to.equal(grpc.connectivityState.READY);
      bobStream.send('alice', 'still here', 'b1');
      await bobStream.until('the receipt', (s) => s.receipts.length === 1);
      expect(bobStream.status).to.equal(undefined);
    });
  });

  describe('names and bodies', function () {
    function loginInvocation(client: WireClient, name: string): Promise<CommandResponse> {
      return new Promise((resolve, reject) =>
        client.client.command(
          { loginOnly: false, input: { $case: 'invocation', invocation: { name: 'LOGIN', args: [name, TEST_PASSWORD] } } },
          (err, response) => (err ? reject(err) : resolve(response!)),
        ),
      );
    }

    it('refuses names with non-ASCII, look-alike, control or invisible characters with INVALID_ARGUMENT', async () => {
      await start({});
      await loggedIn('alice');
      const client = wire();
      const names = {
        'decomposed é (NFD)': 'e\u0301ve',
        'composed é (NFC)': '\u00e8ve',
        'Cyrillic а that looks like a': '\u0430lice',
        'zero-width space': 'ali\u200bce',
        'soft hyphen': 'alice\u00ad',
        'right-to-left override': 'alice\u202egnp',
        'byte-order mark': '\ufeffalice',
        'bell': 'alice\u0007',
        'escape': 'alice\u001b[2J',
        'NUL': 'alice\u0000',
        'DEL': 'alice\u007f',
        'C1 control': 'alice\u0085',
      };
      for (const [what, name] of Object.entries(names)) {
        const error = await expectStatus(loginInvocation(client, name), status.INVALID_ARGUMENT);
        expect(error.details, what).to.include('is not a valid user name').and.include('letters, digits');
      }
      expect(client.token).to.equal(undefined);
      const users = await (await loggedIn('bob')).command('/USERS');
      expect(users.result?.$case === 'users' && users.result.users.users.map((u) => u.name)).to.deep.equal(['alice', 'bob']);
    });

    it('refuses bodies with control characters other than newline and tab per frame, naming the character', async () => {
      await start({});
      const alice = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const aliceStream = await ready(stream(alice));
      const bobStream = await ready(stream(bob));
      const bad = { nul: ['a\u0000b', 'U+0000'], escape: ['\u001b[31mred', 'U+001B'], cr: ['a\rb', 'U+000D'], nel: ['a\u0085b', 'U+0085'], del: ['a\u007fb', 'U+007F'] };
      for (const [clientId, [body]] of Object.entries(bad)) aliceStream.send('bob', body, clientId);
      aliceStream.send('bob', 'line one\nline two\twith a tab', 'fine');
      await aliceStream.until('every answer', (s) => s.receipts.length + s.errors.length === 6);
      for (const [clientId, [, named]] of Object.entries(bad)) {
        const error = aliceStream.errors.find((e) => e.clientId === clientId);
        expect(error, clientId).to.not.equal(undefined);
        expect(error!.code).to.equal(status.INVALID_ARGUMENT);
        expect(error!.message).to.include(`the control character ${named}`);
      }
      expect(aliceStream.receipts.map((r) => r.clientId)).to.deep.equal(['fine']);
      await bobStream.until('the fine message', (s) => s.messages.length === 1);
      expect(bobStream.messages.map((m) => m.body)).to.deep.equal(['line one\nline two\twith a tab']);
    });

    it('refuses a body that is not valid UTF-8 per frame with INVALID_ARGUMENT', async () => {
      await start({});
      const alice = await loggedIn('alice');
      await loggedIn('bob');
      // Encode a frame, then put bytes that are no UTF-8 where the body's text was.
      const frame = Buffer.from(ClientFrame.encode({ kind: { $case: 'send', send: { clientId: 'broken', receiver: 'bob', body: 'XX', kind: 0 } } }).finish());
      const at = frame.indexOf('XX');
      frame[at] = 0xc3;
      frame[at + 1] = 0x28;
      const raw = new grpc.Client(server!.target, grpc.credentials.createInsecure());
      channels.push(raw);
      const call = raw.makeBidiStreamRequest(CONVERSE_METHOD, (bytes: Buffer) => bytes, (bytes: Buffer) => ServerFrame.decode(bytes), alice.metadata());
      const rawStream = new WireStream(call as unknown as grpc.ClientDuplexStream<ClientFrame, ServerFrame>);
      streams.push(rawStream);
      call.write(Buffer.from(ClientFrame.encode({ kind: { $case: 'resume', resume: { afterSequence: 0, watchPresence: false, watchUsers: [] } } }).finish()));
      call.write(frame);
      await rawStream.until('the refusal', (s) => s.errors.length === 1);
      expect(rawStream.errors[0]).to.include({ clientId: 'broken', code: status.INVALID_ARGUMENT });
      expect(rawStream.errors[0].message).to.include('not valid UTF-8');
      expect(rawStream.receipts).to.deep.equal([]);
    });
  });

  describe('the login throttle', function () {
    it('slows a guesser down by name and by address, saying when to retry, rounded up and in retry-after-ms', async () => {
      const windowMs = 1500;
      await start({ limits: { login: { perName: 5, perAddress: 8, windowMs } } });
      await loggedIn('alice');
      await loggedIn('bob');
      const guesser = wire();

      const firstFailure = Date.now();
      for (let i = 0; i < 5; i++) await expectStatus(guesser.login('alice', `wrong ${i}`), status.UNAUTHENTICATED);
      const nameLocked = await expectStatus(guesser.login('alice'), status.RESOURCE_EXHAUSTED);
      expect(nameLocked.details).to.match(/too many failed logins for alice from your address — try again in [12] s$/);
      const retryAfter = Number(nameLocked.metadata.get('retry-after-ms')[0]);
      expect(retryAfter).to.be.within(1, windowMs);

      // Another name from the same address still gets in, until the address has failed 8 times.
      await guesser.login('bob');
      for (let i = 0; i < 3; i++) await expectStatus(guesser.login('bob', `wrong ${i}`), status.UNAUTHENTICATED);
      const addressLocked = await expectStatus(guesser.login('carol'), status.RESOURCE_EXHAUSTED);
      expect(addressLocked.details).to.match(/too many failed logins from your address — try again in [12] s$/);

      await sleep(firstFailure + windowMs + 100 - Date.now());
      await guesser.login('alice');
      await guesser.login('carol');
    });
  });

  describe('the send rate', function () {
    it('passes a burst, refuses the next send per frame with a retry hint, and passes sends again after the wait', async () => {
      await start({ limits: { sendRate: { perSecond: 5, burst: 3 } } });
      const alice = await loggedIn('alice');
      const bob = await loggedIn('bob');
      const aliceStream = await ready(stream(alice));
      for (const id of ['a1', 'a2', 'a3', 'a4']) aliceStream.send('bob', `burst ${id}`, id);
      await aliceStream.until('four answers', (s) => s.receipts.length + s.errors.length === 4);
      expect(aliceStream.receipts.map((r) => r.clientId)).to.deep.equal(['a1', 'a2', 'a3']);
      const [refused] = aliceStream.errors;
      expect(refused).to.include({ clientId: 'a4', code: status.RESOURCE_EXHAUSTED });
      expect(refused.message).to.include('at most 5 messages a second, 3 at once');
      // A wait a person can use: whole seconds, rounded up, never "0.0 s"; the exact wait for programs.
      const hint = /try again in (\d+) s$/.exec(refused.message);
      expect(hint, refused.message).to.not.equal(null);
      expect(Number(hint![1])).to.equal(1);
      expect(refused.retryAfterMs).to.be.within(1, 1000);

      // The limit is per user: bob sends meanwhile.
      const bobStream = await ready(stream(bob));
      bobStream.send('alice', 'not limited by alice', 'b1');
      await bobStream.until('bob’s receipt', (s) => s.receipts.length === 1);

      await sleep(refused.retryAfterMs + 20);
      aliceStream.send('bob', 'after the wait', 'a5');
      await aliceStream.until('the answer after the wait', (s) => s.receipts.length + s.errors.length === 5);
      expect(aliceStream.receipts.map((r) => r.clientId)).to.include('a5');
      expect(aliceStream.status).to.equal(undefined);
    });
  });
});
