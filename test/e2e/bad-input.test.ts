import { DEFAULT_LIMITS } from '../../src/rpc/server';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { ClientFrame, CommandResponse, ServerFrame } from '../../src/gen/tinychat/v1/chat';
import { WireClient, WireStream } from '../support/grpc-client';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { eventually } from '../support/eventually';
import { expectStatus } from '../support/expect-status';

const COMMAND_METHOD = '/tinychat.v1.Chat/Command';
const CONVERSE_METHOD = '/tinychat.v1.Chat/Converse';
/** Bytes that are no protobuf message at all: a varint that never ends. */
const GARBAGE = Buffer.from([0xff, 0xff, 0xff]);
/** Just over the server's default receive limit. */
const OVERSIZED = DEFAULT_LIMITS.maxReceiveBytes + 1024;

const passBytes = (bytes: Buffer) => bytes;
const decode = (bytes: Buffer) => CommandResponse.decode(bytes);

/** Two well-behaved users, each with an open stream, who keep writing to each other. */
class ChattingPair {
  readonly sent = { alice: [] as string[], bob: [] as string[] };
  private counter = 0;

  private constructor(
    readonly alice: WireClient,
    readonly bob: WireClient,
    readonly aliceStream: WireStream,
    readonly bobStream: WireStream,
  ) {}

  static async start(target: string): Promise<ChattingPair> {
    const alice = new WireClient(target);
    const bob = new WireClient(target);
    await alice.login('alice');
    await bob.login('bob');
    const streams = [alice.converse(), bob.converse()];
    for (const stream of streams) {
      stream.resume(0);
      await stream.until('the ready frame', (s) => s.frames.some((f) => f.ready !== undefined));
    }
    return new ChattingPair(alice, bob, streams[0], streams[1]);
  }

  /** Sends one message and waits for its receipt and its delivery. */
  async send(from: 'alice' | 'bob', body: string): Promise<void> {
    const [stream, peerStream, to] =
      from === 'alice' ? [this.aliceStream, this.bobStream, 'bob'] : [this.bobStream, this.aliceStream, 'alice'];
    const clientId = `${from}-${++this.counter}`;
    this.sent[from].push(body);
    stream.send(to, body, clientId);
    await stream.until(`the receipt of ${clientId}`, (s) => s.receipts.some((r) => r.clientId === clientId));
    await peerStream.until(`delivery of ${JSON.stringify(body)}`, (s) => s.messages.some((m) => m.body === body));
  }

  /** One message each way: proof that the server still serves everyone else. */
  async exchange(label: string): Promise<void> {
    await Promise.all([this.send('alice', `alice: ${label}`), this.send('bob', `bob: ${label}`)]);
  }

  async close(): Promise<void> {
    for (const stream of [this.aliceStream, this.bobStream]) if (stream.status === undefined) stream.cancel();
    await Promise.all([this.aliceStream.ended(), this.bobStream.ended()]);
    this.alice.close();
    this.bob.close();
  }
}

describe('bad input against a real server, while two other users keep chatting', function () {
  let server: TestServer;
  let pair: ChattingPair;
  let clients: WireClient[] = [];
  let streams: WireStream[] = [];
  let rawClients: grpc.Client[] = [];
  let userCount = 0;

  before(async function () {
    server = await startTestServer();
    pair = await ChattingPair.start(server.target);
  });

  afterEach(async function () {
    for (const stream of streams) if (stream.status === undefined) stream.cancel();
    await Promise.all(streams.map((stream) => stream.ended()));
    for (const client of clients) client.close();
    for (const raw of rawClients) raw.close();
    [clients, streams, rawClients] = [[], [], []];
    // Teardown check: whatever a test broke, the server holds only the pair's streams.
    await eventually('the server to hold only the two chatting streams', () => server.server.streamCount() === 2);
  });

  after(async function () {
    await pair?.close();
    await server?.stop();
    removeTempDirs();
  });

  /** A new user with a fresh name, logged in. */
  async function user(prefix: string): Promise<{ client: WireClient; name: string }> {
    const client = new WireClient(server.target);
    clients.push(client);
    const name = `${prefix}${++userCount}`;
    await client.login(name);
    return { client, name };
  }

  /** Opens a stream with `metadata` as given. */
  function streamWith(client: WireClient, metadata: grpc.Metadata): WireStream {
    const stream = new WireStream(client.client.converse(metadata));
    streams.push(stream);
    return stream;
  }

  /** Opens a stream, sends `firstFrame` (a resume from 0 unless given) and waits for the greeting. */
  async function openStream(client: WireClient, firstFrame?: ClientFrame): Promise<WireStream> {
    const stream = streamWith(client, client.metadata());
    if (firstFrame) stream.write(firstFrame);
    else stream.resume(0);
    await stream.until('the ready frame', (s) => s.frames.some((f) => f.ready !== undefined));
    return stream;
  }

  function rawClient(): grpc.Client {
    const raw = new grpc.Client(server.target, grpc.credentials.createInsecure());
    rawClients.push(raw);
    return raw;
  }

  /** Sends `bytes` as the whole request of a Command call; resolves with the error it must fail with. */
  function rawCommandError(bytes: Buffer): Promise<grpc.ServiceError> {
    return new Promise((resolve, reject) =>
      rawClient().makeUnaryRequest(COMMAND_METHOD, passBytes, passBytes, bytes, new grpc.Metadata(), (err, response) =>
        err ? resolve(err) : reject(new Error(`expected an error, got ${JSON.stringify(CommandResponse.toJSON(decode(response!)))}`)),
      ),
    );
  }

  /** A Converse call that sends whatever bytes it is given, decoding what comes back. */
  function rawConverse(client: WireClient) {
    const call = rawClient().makeBidiStreamRequest(CONVERSE_METHOD, passBytes, passBytes, client.metadata());
    const frames: ServerFrame[] = [];
    call.on('data', (bytes: Buffer) => frames.push(ServerFrame.decode(bytes)));
    call.on('error', () => undefined);
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    return { call, frames, ended };
  }

  async function isOnline(observer: WireClient, name: string): Promise<boolean> {
    const response = await observer.command('/USERS');
    if (response.result?.$case !== 'users') throw new Error(response.text);
    return response.result.users.users.find((u) => u.name === name)?.online ?? false;
  }

  describe('Converse without a valid session', function () {
    it('ends a stream without a token with UNAUTHENTICATED, saying how to log in', async function () {
      const stranger = new WireClient(server.target);
      clients.push(stranger);
      const stream = streamWith(stranger, new grpc.Metadata());
      stream.resume(0);
      const ended = await stream.ended();
      expect(ended.code).to.equal(status.UNAUTHENTICATED);
      expect(ended.details).to.contain('/LOGIN');
      expect(stream.frames).to.deep.equal([]);
      await pair.exchange('after a stream without a token');
    });

    it('ends a stream with an unknown token or a non-bearer header with UNAUTHENTICATED', async function () {
      const stranger = new WireClient(server.target);
      clients.push(stranger);
      const { client: mallory } = await user('mallory');
      for (const value of ['Bearer not-a-token', `Basic ${mallory.token}`, 'Bearer']) {
        const metadata = new grpc.Metadata();
        metadata.set('authorization', value);
        const stream = streamWith(stranger, metadata);
        stream.resume(0);
        const ended = await stream.ended();
        expect(status[ended.code], value).to.equal('UNAUTHENTICATED');
        expect(stream.frames, value).to.deep.equal([]);
      }
      await pair.exchange('after streams with bad tokens');
    });
  });

  describe('bad frames on an open stream', function () {
    it('refuses each bad send on its own frame, echoing its client_id, and keeps the stream open', async function () {
      const { client: mallory } = await user('mallory');
      const { client: target, name: targetName } = await user('target');
      const stream = await openStream(mallory);
      const targetStream = await openStream(target);

      const badSends = [
        { clientId: 'empty-body', receiver: targetName, body: '', code: status.INVALID_ARGUMENT, says: 'empty' },
        { clientId: 'blank-body', receiver: targetName, body: ' \t\n  ', code: status.INVALID_ARGUMENT, says: 'empty' },
        { clientId: 'ascii-4097', receiver: targetName, body: 'x'.repeat(4097), code: status.INVALID_ARGUMENT, says: '4097 bytes' },
        // 2049 characters, but 4098 bytes of UTF-8: the limit counts bytes.
        { clientId: 'accents-4098', receiver: targetName, body: 'é'.repeat(2049), code: status.INVALID_ARGUMENT, says: '4098 bytes' },
        { clientId: 'emoji-4100', receiver: targetName, body: '😀'.repeat(1025), code: status.INVALID_ARGUMENT, says: '4100 bytes' },
        { clientId: '', receiver: targetName, body: 'no id', code: status.INVALID_ARGUMENT, says: 'client_id' },
        { clientId: 'c'.repeat(65), receiver: targetName, body: 'long id', code: status.INVALID_ARGUMENT, says: 'at most 64' },
        { clientId: 'unknown-receiver', receiver: 'nobody-at-all', body: 'hello?', code: status.NOT_FOUND, says: '/USERS' },
      ];
      for (const send of badSends) stream.send(send.receiver, send.body, send.clientId);
      await stream.until('an error for every bad send', (s) => s.errors.length >= badSends.length);

      expect(stream.errors).to.have.length(badSends.length);
      for (const send of badSends) {
        const error = stream.errors.find((e) => e.clientId === send.clientId);
        expect(error, `error for ${send.clientId || 'the send without client_id'}`).to.not.equal(undefined);
        expect(status[error!.code], send.clientId).to.equal(status[send.code]);
        expect(error!.message, send.clientId).to.contain(send.says);
      }
      expect(stream.receipts).to.deep.equal([]);

      // The limits are inclusive: these are accepted.
      const fine = [
        { clientId: 'ascii-4096', body: 'x'.repeat(4096) },
        { clientId: 'accents-4096', body: 'é'.repeat(2048) },
        { clientId: 'i'.repeat(64), body: 'longest id' },
      ];
      for (const send of fine) stream.send(targetName, send.body, send.clientId);
      await stream.until('a receipt for every valid send', (s) => s.receipts.length >= fine.length);
      expect(stream.receipts.map((r) => r.clientId).sort()).to.deep.equal(fine.map((s) => s.clientId).sort());
      await targetStream.until('the valid messages', (s) => s.messages.length >= fine.length);
      expect(targetStream.messages.map((m) => m.body)).to.have.members(fine.map((s) => s.body));
      expect(stream.status).to.equal(undefined);
      await pair.exchange('after bad sends');
    });

    it('refuses an empty frame with INVALID_ARGUMENT, first or later, and keeps delivering', async function () {
      const { client: mallory, name: malloryName } = await user('mallory');
      const { client: sender } = await user('sender');
      const stream = await openStream(mallory, {});
      await stream.until('the first frame error', (s) => s.errors.length === 1);
      stream.write({ kind: undefined });
      await stream.until('the second frame error', (s) => s.errors.length === 2);
      for (const error of stream.errors) {
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
        expect(error.message).to.contain('set one of send, ack, resume or watch');
      }

      const senderStream = await openStream(sender);
      senderStream.send(malloryName, 'still listening?', 's1');
      await stream.until('the message', (s) => s.messages.some((m) => m.body === 'still listening?'));
      expect(stream.status).to.equal(undefined);
      await pair.exchange('after empty frames');
    });

    it('refuses a second resume with FAILED_PRECONDITION and keeps the stream open', async function () {
      const { client: mallory } = await user('mallory');
      const { name: targetName } = await user('target');
      const stream = await openStream(mallory);
      stream.resume(0);
      await stream.until('the frame error', (s) => s.errors.length > 0);
      expect(stream.errors).to.have.length(1);
      expect(stream.errors[0].code).to.equal(status.FAILED_PRECONDITION);
      expect(stream.errors[0].message).to.contain('only valid as the first frame');

      stream.send(targetName, 'hello', 'after-second-resume');
      await stream.until('the receipt', (s) => s.receipts.length === 1);
      await pair.exchange('after a second resume');
    });

    it('refuses an ack beyond the newest message with INVALID_ARGUMENT and accepts one up to it', async function () {
      const { client: mallory, name: malloryName } = await user('mallory');
      const { client: sender } = await user('sender');
      const senderStream = await openStream(sender);
      senderStream.send(malloryName, 'one', 'a1');
      senderStream.send(malloryName, 'two', 'a2');
      await senderStream.until('both receipts', (s) => s.receipts.length === 2);

      const stream = await openStream(mallory);
      await stream.until('both messages', (s) => s.messages.length === 2);
      stream.ack(2);
      stream.ack(3);
      stream.ack(1_000_000);
      await stream.until('two frame errors', (s) => s.errors.length >= 2);
      expect(stream.errors.map((e) => [e.code, e.clientId])).to.deep.equal([
        [status.INVALID_ARGUMENT, ''],
        [status.INVALID_ARGUMENT, ''],
      ]);
      expect(stream.errors[0].message).to.contain('cannot acknowledge 3').and.to.contain('newest message is 2');

      senderStream.send(malloryName, 'three', 'a3');
      await stream.until('the next message', (s) => s.messages.some((m) => m.body === 'three'));
      expect(stream.status).to.equal(undefined);
      await pair.exchange('after bad acks');
    });

    it('answers a resume from the future with a frame error and delivers from the newest message on', async function () {
      const { client: mallory, name: malloryName } = await user('mallory');
      const { client: sender } = await user('sender');
      const senderStream = await openStream(sender);
      senderStream.send(malloryName, 'old one', 'f1');
      senderStream.send(malloryName, 'old two', 'f2');
      await senderStream.until('both receipts', (s) => s.receipts.length === 2);

      const stream = await openStream(mallory, { kind: { $case: 'resume', resume: { afterSequence: 100, watchPresence: false, watchUsers: [] } } });
      await stream.until('the frame error', (s) => s.errors.length > 0);
      expect(stream.errors[0].code).to.equal(status.INVALID_ARGUMENT);
      expect(stream.errors[0].message).to.contain('cannot resume after 100').and.to.contain('newest message is 2');

      senderStream.send(malloryName, 'new three', 'f3');
      await stream.until('the new message', (s) => s.messages.length > 0);
      expect(stream.messages.map((m) => [m.sequence, m.body])).to.deep.equal([[3, 'new three']]);
      expect(stream.status).to.equal(undefined);
      await pair.exchange('after a resume from the future');
    });
  });

  describe('bytes that are not the protocol', function () {
    it('fails a Command whose request is garbage bytes with an error status and keeps serving', async function () {
      expect(status[(await rawCommandError(GARBAGE)).code]).to.equal('INTERNAL');
      // A field tag with a wire type that does not exist.
      expect(status[(await rawCommandError(Buffer.from([0x0f, 0x01]))).code]).to.equal('INTERNAL');

      const { client: mallory } = await user('mallory');
      expect((await mallory.command('/TIME')).result?.$case).to.equal('time');
      await pair.exchange('after garbage commands');
    });

    it('ends a Converse stream that sends garbage bytes with an error status, and its user goes offline', async function () {
      const { client: mallory, name: malloryName } = await user('mallory');
      const { call, frames, ended } = rawConverse(mallory);

      const resume: ClientFrame = { kind: { $case: 'resume', resume: { afterSequence: 0, watchPresence: false, watchUsers: [] } } };
      call.write(Buffer.from(ClientFrame.encode(resume).finish()));
      await eventually('the ready frame', () => frames.some((f) => f.ready !== undefined));
      expect(await isOnline(pair.alice, malloryName)).to.equal(true);

      call.write(GARBAGE);
      const final = await ended;
      expect(final.code).to.equal(status.INTERNAL);
      await eventually('mallory to go offline', () => isOnline(pair.alice, malloryName).then((online) => !online));
      await pair.exchange('after a garbage frame');
    });

    it('refuses a body that is not valid UTF-8 with a per-frame INVALID_ARGUMENT, and stores nothing', async function () {
      const { client: mallory } = await user('mallory');
      const { client: target, name: targetName } = await user('target');
      const targetStream = await openStream(target);
      const { call, frames, ended } = rawConverse(mallory);

      // ClientFrame{send{client_id:"u1", receiver:<target>, body:<0xff 0xfe 'a'>}}, built by hand.
      const receiver = Buffer.from(targetName, 'utf8');
      const send = Buffer.concat([
        Buffer.from([0x0a, 0x02]),
        Buffer.from('u1'),
        Buffer.from([0x12, receiver.length]),
        receiver,
        Buffer.from([0x1a, 0x03, 0xff, 0xfe, 0x61]),
      ]);
      call.write(Buffer.concat([Buffer.from([0x0a, send.length]), send]));
      await eventually('the refusal', () => frames.some((f) => f.errors.length > 0));
      const [error] = frames.flatMap((f) => f.errors);
      expect(error).to.include({ code: status.INVALID_ARGUMENT, clientId: 'u1' });
      expect(error.message).to.contain('not valid UTF-8');
      expect(frames.flatMap((f) => f.receipts)).to.deep.equal([]);
      call.end();
      expect((await ended).code).to.equal(status.OK);
      await pair.exchange('after a body that is not UTF-8');
      expect(targetStream.messages).to.deep.equal([]);
    });
  });

  describe('strings that are not valid UTF-8, in every field', function () {
    /** A length-delimited protobuf field, by hand, so it can hold any bytes. */
    function field(number: number, bytes: Buffer): Buffer {
      if (bytes.length > 127) throw new Error('keep hand-built fields short');
      return Buffer.concat([Buffer.from([(number << 3) | 2, bytes.length]), bytes]);
    }
    const text = (value: string) => Buffer.from(value, 'utf8');
    const sendFrame = (clientId: Buffer, receiver: Buffer, body: Buffer) =>
      field(1, Buffer.concat([field(1, clientId), field(2, receiver), field(3, body)]));

    it('keeps two sends whose client ids differ only in invalid bytes apart: both are refused, none is taken for a retry', async function () {
      const { client: mallory } = await user('mallory');
      const { client: target, name: targetName } = await user('target');
      const targetStream = await openStream(target);
      const { call, frames, ended } = rawConverse(mallory);
      const resume = field(3, Buffer.alloc(0));
      call.write(resume);
      call.write(sendFrame(Buffer.from([0x69, 0x64, 0x2d, 0xff]), text(targetName), text('first body')));
      call.write(sendFrame(Buffer.from([0x69, 0x64, 0x2d, 0xfe]), text(targetName), text('second body')));
      // The same bytes, valid: stored as usual and not mistaken for either.
      call.write(sendFrame(text('id-\uFFFD'), text(targetName), text('third body')));
      await eventually('two refusals and a receipt', () => frames.flatMap((f) => f.errors).length === 2 && frames.some((f) => f.receipts.length > 0));
      for (const error of frames.flatMap((f) => f.errors)) {
        expect(error).to.include({ code: status.INVALID_ARGUMENT, clientId: '' });
        expect(error.message).to.contain('send.client_id').and.contain('not valid UTF-8');
      }
      const receipts = frames.flatMap((f) => f.receipts);
      expect(receipts.map((r) => ({ clientId: r.clientId, duplicate: r.duplicate }))).to.deep.equal([{ clientId: 'id-\uFFFD', duplicate: false }]);
      call.end();
      expect((await ended).code).to.equal(status.OK);
      await targetStream.until('the valid message', (s) => s.messages.length === 1);
      expect(targetStream.messages.map((m) => m.body)).to.deep.equal(['third body']);
    });

    it('names the receiver or body field that is not UTF-8, echoing a valid client id', async function () {
      const { client: mallory } = await user('mallory');
      const { name: targetName } = await user('target');
      const { call, frames, ended } = rawConverse(mallory);
      call.write(sendFrame(text('bad-receiver'), Buffer.concat([text(targetName), Buffer.from([0xc0, 0x80])]), text('hello')));
      call.write(sendFrame(text('bad-both'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82])));
      await eventually('two refusals', () => frames.flatMap((f) => f.errors).length === 2);
      const [first, second] = frames.flatMap((f) => f.errors);
      expect(first).to.include({ code: status.INVALID_ARGUMENT, clientId: 'bad-receiver' });
      expect(first.message).to.contain('send.receiver').and.not.contain('send.body');
      expect(second).to.include({ code: status.INVALID_ARGUMENT, clientId: 'bad-both' });
      expect(second.message).to.contain('send.receiver, send.body');
      call.end();
      expect((await ended).code).to.equal(status.OK);
    });

    it('refuses a /LOGIN whose password is not UTF-8, so different invalid bytes never open one account', async function () {
      const name = `victim${++userCount}`;
      const login = (bad: number) =>
        rawCommandError(field(1, Buffer.concat([text(`/LOGIN ${name} secret-`), Buffer.from([bad, bad]), text('-password')])));
      for (const bad of [0xff, 0xfe]) {
        const refused = await login(bad);
        expect(status[refused.code]).to.equal('INVALID_ARGUMENT');
        expect(refused.details).to.contain('the field line is not valid UTF-8');
      }
      // Neither attempt registered the name.
      const users = await pair.alice.command('/USERS');
      if (users.result?.$case !== 'users') throw new Error('not a users result');
      expect(users.result.users.users.map((u) => u.name)).to.not.include(name);

      // The split form is checked argument by argument.
      const invocation = field(2, Buffer.concat([field(1, text('LOGIN')), field(2, text(name)), field(2, Buffer.from([0x70, 0xff]))]));
      const split = await rawCommandError(invocation);
      expect(status[split.code]).to.equal('INVALID_ARGUMENT');
      expect(split.details).to.contain('invocation.args[1]');
      await pair.exchange('after passwords that are not UTF-8');
    });

    it('delivers U+FFFD sent as valid UTF-8: only bytes that are not UTF-8 are refused', async function () {
      await pair.send('alice', 'a replacement character \uFFFD is text like any other');
    });
  });

  describe('requests over the size limit', function () {
    it('refuses a Command over the receive limit with RESOURCE_EXHAUSTED and one just under it as too long', async function () {
      const { client: mallory } = await user('mallory');
      await expectStatus(mallory.command(`/START ${'x'.repeat(OVERSIZED)}`), status.RESOURCE_EXHAUSTED);
      const tooLong = await expectStatus(mallory.command(`/START ${'x'.repeat(DEFAULT_LIMITS.maxReceiveBytes - 1024)}`), status.INVALID_ARGUMENT);
      expect(tooLong.details).to.contain('too long');
      expect((await mallory.command('/TIME')).result?.$case).to.equal('time');
      await pair.exchange('after oversized commands');
    });

    it('ends a Converse stream that sends a frame over the receive limit with RESOURCE_EXHAUSTED, and its user goes offline', async function () {
      const { client: mallory, name: malloryName } = await user('mallory');
      const { name: targetName } = await user('target');
      const stream = await openStream(mallory);
      stream.send(targetName, 'y'.repeat(OVERSIZED), 'huge');
      const ended = await stream.ended();
      expect(ended.code).to.equal(status.RESOURCE_EXHAUSTED);
      expect(stream.receipts).to.deep.equal([]);
      await eventually('mallory to go offline', () => isOnline(pair.alice, malloryName).then((online) => !online));
      await pair.exchange('after an oversized frame');
    });
  });

  describe('message bodies that look like commands', function () {
    it('delivers a message body that looks like a command as plain text and runs nothing', async function () {
      const before = await pair.alice.command('/USERS');
      for (const body of ['/QUIT', '/USERS', '/LOGIN intruder', '/STOP']) await pair.send('alice', body);

      expect(pair.bobStream.messages.map((m) => m.body)).to.include.members(['/QUIT', '/USERS', '/LOGIN intruder', '/STOP']);
      expect(pair.aliceStream.status).to.equal(undefined);
      expect((await pair.alice.command('/TIME')).result?.$case).to.equal('time');
      const after = await pair.alice.command('/USERS');
      if (before.result?.$case !== 'users' || after.result?.$case !== 'users') throw new Error('not a users result');
      expect(after.result.users.users.map((u) => u.name)).to.not.include('intruder');
      await pair.exchange('after command-like messages');
    });
  });

  // Mocha runs suites in the order written: this one comes after everything above.
  describe('after all of the above', function () {
    it('has delivered everything the two chatting users sent exactly once, in order, live and from the store', async function () {
      await pair.exchange('the last word');
      const liveToBob = pair.bobStream.messages.filter((m) => m.sender === 'alice');
      const liveToAlice = pair.aliceStream.messages.filter((m) => m.sender === 'bob');
      expect(liveToBob.map((m) => m.body)).to.deep.equal(pair.sent.alice);
      expect(liveToAlice.map((m) => m.body)).to.deep.equal(pair.sent.bob);
      for (const stream of [pair.aliceStream, pair.bobStream]) {
        expect(stream.messages.map((m) => m.sequence)).to.deep.equal(stream.messages.map((_, i) => i + 1));
        expect(stream.errors).to.deep.equal([]);
        expect(stream.status).to.equal(undefined);
      }

      for (const [client, from] of [
        [pair.bob, 'alice'],
        [pair.alice, 'bob'],
      ] as const) {
        const replay = client.converse();
        streams.push(replay);
        replay.resume(0);
        const expected = pair.sent[from].length;
        await replay.until('the whole inbox', (s) => s.messages.length >= expected);
        expect(replay.messages.map((m) => m.body)).to.deep.equal(pair.sent[from]);
      }
    });
  });
});
