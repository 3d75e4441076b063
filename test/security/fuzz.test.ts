import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { HealthClient, type HealthStub } from '../support/health-probe';
import * as fc from 'fast-check';
import { ChatClient, ClientFrame, CommandRequest, CommandResponse, RoomEvent, ServerFrame } from '../../src/gen/tinychat/v1/chat';
import type { ServerLimits } from '../../src/rpc/server';
import { eventually, sleep } from '../support/eventually';
import { WireClient, WireStream } from '../support/grpc-client';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { ChattingPair, PAIR_NAMES, POOL_PASSWORD, UserPool, type Credentials } from './fuzz-actors';
import {
  batches,
  decodeClientFrame,
  decodeCommandRequest,
  encodeChunk,
  encodeRawRequest,
  isNotUtf8,
  PoolUser,
  RECEIVE_LIMIT,
  utf8,
  type Batch,
  type BatchShape,
  type Bytes,
  type CommandPlan,
  type FramePlan,
  type RawCommandPlan,
  type RawStreamPlan,
  type RequestPlan,
  type StreamPlan,
  type Text,
  type TokenPick,
} from './fuzz-inputs';

/**
 * Property-based fuzzing through real gRPC: batches of random and malformed
 * commands, Converse frames and raw bytes run at once against one server,
 * while two well-behaved users chat alongside. After every batch the server
 * must still answer; every call must have ended with a proper status; and at
 * the end the two users must have lost nothing.
 *
 * `npm test` runs a fixed seed and a bounded count (TINYCHAT_FUZZ_RUNS
 * batches, 200 by default, with the limits lifted and half as many with the
 * default limits). `npm run fuzz` runs 5000. TINYCHAT_FUZZ_SEED=n picks
 * another seed; TINYCHAT_FUZZ_SHRINK=1 shrinks a failing batch to a smaller
 * one before reporting it (slower).
 */

const SEED = intFromEnv('TINYCHAT_FUZZ_SEED', 20261126);
/** Batches with raised limits; the run with the default limits gets half as many. */
const RUNS = intFromEnv('TINYCHAT_FUZZ_RUNS', 200);
const SHRINK = process.env.TINYCHAT_FUZZ_SHRINK === '1';

const CONVERSE_METHOD = '/tinychat.v1.Chat/Converse';
const COMMAND_METHOD = '/tinychat.v1.Chat/Command';
/** A call that takes longer than this has hung. */
const CALL_DEADLINE_MS = 15_000;

/** Codes a call may end with at all; UNKNOWN, INTERNAL, DEADLINE_EXCEEDED and the like mean a bug. */
const PROPER_CODES = [
  status.OK,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.PERMISSION_DENIED,
  status.UNAUTHENTICATED,
  status.FAILED_PRECONDITION,
  status.RESOURCE_EXHAUSTED,
];
/** Per-frame error codes that would mean a bug: OK, UNKNOWN, INTERNAL. */
const IMPROPER_FRAME_CODES = [status.OK, status.UNKNOWN, status.INTERNAL];
/** What a stored body may not contain (see the body rules): controls other than tab and newline. */
const FORBIDDEN_IN_BODY = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

/** Every string in a decoded request or frame, wherever it sits. */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value === null || typeof value !== 'object' || value instanceof Date) return [];
  return Object.entries(value).flatMap(([key, field]) => (key === '$case' ? [] : stringsOf(field)));
}

/** True when some string of a decoded request or frame was sent as bytes that are not UTF-8. */
function hasNotUtf8(value: unknown): boolean {
  return stringsOf(value).some(isNotUtf8);
}

/** The client id a send's answers carry: none when its own bytes were not UTF-8. */
function answerIdOf(send: { clientId: string }): string {
  return isNotUtf8(send.clientId) ? '' : send.clientId;
}

const passBytes = (bytes: Buffer) => bytes;
/** grpc-js shares one connection among clients of a process unless told otherwise. */
const OWN_CONNECTION = { 'grpc.use_local_subchannel_pool': 1 };


function intFromEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new Error(`${name} must be a whole number, not ${JSON.stringify(value)}`);
  return parsed;
}

/** A value as short JSON: long strings, byte strings and pool references abbreviated. */
function brief(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'string') return v.length > 80 ? `${v.slice(0, 40)}… (${v.length} chars)` : v;
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof PoolUser) return `<pool user ${v.slot}>`;
    const buffer = v as { type?: unknown; data?: unknown };
    const bytes = ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : buffer?.type === 'Buffer' && Array.isArray(buffer.data) ? Buffer.from(buffer.data) : undefined;
    if (bytes) return bytes.length > 32 ? `<${bytes.length} bytes: ${bytes.subarray(0, 16).toString('hex')}…>` : `<bytes ${bytes.toString('hex')}>`;
    return v;
  });
}

/** What the server answered a command, with the request; checked once the whole batch is done. */
interface CommandOutcome {
  request: CommandRequest;
  /** Request size in bytes. */
  size: number;
  /** The bytes sent were no CommandRequest (request is then empty). */
  undecodable: boolean;
  credentials: Credentials;
  error?: grpc.ServiceError;
  response?: CommandResponse;
}

/** How a Converse stream went, with what it sent; checked once the whole batch is done. */
interface StreamOutcome {
  label: string;
  credentials: Credentials;
  /** The frames as the server decodes them, up to the first it cannot. */
  frames: ClientFrame[];
  /** How the stream may end if nothing else ends it first. */
  expectedEnds: status[];
  cancelled: boolean;
  status: grpc.StatusObject;
  received: ServerFrame[];
}

const EMPTY_BATCH: Batch = { commands: [], streams: [], rawCommands: [], rawStreams: [] };
const bearer = (pool: number): TokenPick => ({ pool, session: 0, scheme: 'Bearer ' });
/** A hundred messages from pool user `from` to pool user 0 (the default burst allows a hundred). */
const hundredMessages = (from: number): StreamPlan => ({
  token: bearer(from),
  frames: Array.from({ length: 100 }, (_, i) => ({ send: { clientId: `fill-${from}-${i}`, receiver: new PoolUser(0), body: `message ${i}`, kind: 0 } })),
  ending: 'half-close',
});
/** Once the stream is open, a resume and at once a frame grpc-js itself refuses, while the session writes out a long inbox. */
const resumeThen = (refused: Uint8Array): RawStreamPlan => ({
  token: bearer(0),
  chunks: [{ pause: 50 }, { resume: { after: 0n, watch: false } }, { garbage: refused }],
});

/** Batches that found bugs once; they run first, every time. */
const REGRESSIONS: Batch[] = [
  // An error message that quoted user input cut a surrogate pair in half; grpc-js threw on it and the process stopped.
  {
    ...EMPTY_BATCH,
    commands: [
      { token: { none: true }, request: { invocation: { name: '😀'.repeat(30), args: [] } } },
      { token: { none: true }, request: { line: [`/${'😀'.repeat(30)}`] } },
      { token: bearer(0), request: { line: ['/START ', '😀'.repeat(30)] } },
    ],
  },
  // Well-formed uint64 values past 2^53 ended the stream with INTERNAL instead of a frame error.
  {
    ...EMPTY_BATCH,
    rawStreams: [{ token: bearer(0), chunks: [{ resume: { after: 2n ** 64n - 1n, watch: false } }, { ack: 2n ** 63n }] }],
  },
  // A frame written while grpc-js was ending the call (bytes that are no frame, a frame over the limit) lost the
  // status; the client waited until its deadline. The first batch fills an inbox, so that the next streams
  // have pages of messages to write back while grpc-js ends them.
  { ...EMPTY_BATCH, streams: [1, 2, 3].map(hundredMessages) },
  {
    ...EMPTY_BATCH,
    rawStreams: [
      ...Array.from({ length: 2 }, () => resumeThen(Uint8Array.from([0x66, 0x38]))),
      ...Array.from({ length: 6 }, () => resumeThen(new Uint8Array(RECEIVE_LIMIT + 16).fill(0xff))),
    ],
  },
];

/** How one run of the fuzzer is set up. */
interface FuzzMode {
  title: string;
  limits?: Partial<ServerLimits>;
  /** Default limits: RESOURCE_EXHAUSTED may answer anything. */
  throttled: boolean;
  runs: number;
  shape: BatchShape;
}

const MODES: FuzzMode[] = [
  {
    title: 'with the rate, login, stream and connection limits lifted, so that every input reaches the code that handles it',
    limits: {
      sendRate: { perSecond: 0, burst: 0 },
      login: { perName: 0, perAddress: 0, windowMs: 60_000 },
      maxStreamsPerUser: 0,
      maxConnectionsPerAddress: 0,
    },
    throttled: false,
    runs: RUNS,
    shape: { poolSize: 6, streamSlots: 6, maxStreams: 4, maxFramesPerStream: 24, maxCommands: 14 },
  },
  {
    title: 'with the default limits, which the fuzzer runs into',
    throttled: true,
    runs: Math.ceil(RUNS / 2),
    // Many streams on few users, so that some exceed the streams-per-user limit.
    shape: { poolSize: 4, streamSlots: 2, maxStreams: 12, maxFramesPerStream: 40, maxCommands: 14 },
  },
];

describe(`the server under thousands of random and malformed inputs (fuzz seed ${SEED})`, function () {
  for (const mode of MODES) {
    describe(mode.title, function () {
      let server: TestServer;
      let pair: ChattingPair;
      let pool: UserPool;
      /** Logs the pool's users in; the chatting pair and the observer have their own clients. */
      let admin: WireClient;
      let observer: WireClient;
      /** The fuzzer's connection for typed and for raw calls; new for every batch. */
      let fuzzer: ChatClient;
      let raw: grpc.Client;
      let health: HealthStub;
      let inputs = 0;
      /** Errors thrown or rejected outside any call: in production each would stop the server process. */
      const uncaught: unknown[] = [];
      const recordUncaught = (err: unknown) => uncaught.push(err);

      before(async function () {
        process.on('uncaughtException', recordUncaught);
        process.on('unhandledRejection', recordUncaught);
        server = await startTestServer({ limits: mode.limits });
        pair = await ChattingPair.start(server.target);
        admin = new WireClient(server.target);
        observer = new WireClient(server.target);
        await observer.login('observer');
        pool = await UserPool.create(admin, 'fuzz', mode.shape.poolSize);
        health = new HealthClient(server.target, grpc.credentials.createInsecure()) as unknown as HealthStub;
      });

      after(async function () {
        await pair?.close();
        for (const client of [admin, observer]) client?.close();
        health?.close();
        await server?.stop();
        removeTempDirs();
        process.off('uncaughtException', recordUncaught);
        process.off('unhandledRejection', recordUncaught);
      });

      it(`answers every command, frame and byte string with a proper status and stays up (${mode.runs} batches)`, async function () {
        // Hangs are caught by each call's deadline; this only bounds the whole run.
        this.timeout(2 * CALL_DEADLINE_MS + mode.runs * 1_000);
        const started = Date.now();
        await fc.assert(
          fc.asyncProperty(batches(mode.shape, PAIR_NAMES, POOL_PASSWORD), async (batch) => {
            inputs += await runBatch(batch);
          }),
          {
            seed: SEED,
            numRuns: mode.runs,
            examples: REGRESSIONS.map((batch) => [batch]),
            endOnFailure: !SHRINK,
            reporter: (details) => {
              if (!details.failed) return;
              const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
              throw new Error(
                `fuzz batch failed after ${details.numRuns} runs (seed ${details.seed}, path "${details.counterexamplePath}"):\n${error}\n` +
                  `batch: ${brief(details.counterexample?.[0])}`,
              );
            },
          },
        );
        // Shown with the test's name so a longer run says what it did.
        this.test!.title += ` — ${inputs} inputs in ${((Date.now() - started) / 1000).toFixed(1)} s`;
      });

      it('has delivered every message of the two users chatting alongside exactly once, in order, live and from the store', async function () {
        this.timeout(30_000);
        await pair.verify();
      });

      /** Runs everything in one batch at once, checks each answer, then checks that the server still serves. */
      async function runBatch(batch: Batch): Promise<number> {
        // A connection of its own, as another client would have: the HTTP/2 layer closes a
        // connection that resets streams faster than it allows (rapid-reset protection), and
        // cancelling streams is part of the fuzzing. Each batch stays far below that.
        fuzzer = new ChatClient(server.target, grpc.credentials.createInsecure(), OWN_CONNECTION);
        raw = new grpc.Client(server.target, grpc.credentials.createInsecure(), OWN_CONNECTION);
        const commands = batch.commands.map(runCommand);
        const rawCommands = batch.rawCommands.map(runRawCommand);
        const streams = [...batch.streams.map(runStream), ...batch.rawStreams.map(runRawStream)];
        const commandOutcomes = await Promise.all([...commands, ...rawCommands]);
        const streamOutcomes = await Promise.all(streams);
        fuzzer.close();
        raw.close();
        const ended = pool.recordEnded(commandOutcomes);

        expect(uncaught.map(String), 'errors thrown outside any call (each would stop a real server)').to.deep.equal([]);
        for (const outcome of commandOutcomes) checkCommand(outcome, ended);
        for (const outcome of streamOutcomes) checkStream(outcome, ended);
        await checkServing();
        await pool.refresh();
        return commandOutcomes.length + streamOutcomes.reduce((sum, outcome) => sum + 1 + outcome.frames.length, 0);
      }

      function resolveText(text: Text): string {
        return text instanceof PoolUser ? pool.nameOf(text.slot) : text;
      }

      function resolveBytes(bytes: Bytes): Uint8Array {
        return bytes instanceof PoolUser ? utf8(pool.nameOf(bytes.slot)) : bytes;
      }

      function renderRequest(plan: RequestPlan): CommandRequest {
        if ('line' in plan) return { loginOnly: false, input: { $case: 'line', line: plan.line.map(resolveText).join('') } };
        if ('invocation' in plan) {
          return { loginOnly: false, input: { $case: 'invocation', invocation: { name: plan.invocation.name, args: plan.invocation.args.map(resolveText) } } };
        }
        return { loginOnly: false, input: undefined };
      }

      function renderFrame(plan: FramePlan): ClientFrame {
        if ('send' in plan) return { kind: { $case: 'send', send: { ...plan.send, receiver: resolveText(plan.send.receiver) } } };
        if ('ack' in plan) return { kind: { $case: 'ack', ack: { sequence: plan.ack } } };
        if ('resume' in plan) {
          const { after, watch, users = [] } = plan.resume;
          return { kind: { $case: 'resume', resume: { afterSequence: after, watchPresence: watch, watchUsers: users.map(resolveText) } } };
        }
        if ('watch' in plan) return { kind: { $case: 'watch', watch: { users: plan.watch.users.map(resolveText), everyone: plan.watch.everyone } } };
        return { kind: undefined };
      }

      function deadline(): grpc.CallOptions {
        return { deadline: Date.now() + CALL_DEADLINE_MS };
      }

      async function runCommand(plan: CommandPlan): Promise<CommandOutcome> {
        const request = renderRequest(plan.request);
        const credentials = pool.credentials(plan.token);
        const size = CommandRequest.encode(request).finish().length;
        return new Promise((resolve) =>
          fuzzer.command(request, credentials.metadata, deadline(), (err, response) =>
            resolve({ request, size, undecodable: false, credentials, error: err ?? undefined, response }),
          ),
        );
      }

      async function runRawCommand(plan: RawCommandPlan): Promise<CommandOutcome> {
        const bytes = encodeRawRequest(plan.request, resolveBytes);
        const credentials = pool.credentials(plan.token);
        const decoded = decodeCommandRequest(bytes);
        const undecodable = decoded === undefined;
        const request = decoded ?? { loginOnly: false, input: undefined };
        return new Promise((resolve) =>
          raw.makeUnaryRequest(COMMAND_METHOD, passBytes, passBytes, Buffer.from(bytes), credentials.metadata, deadline(), (err, response) =>
            resolve({
              request,
              size: bytes.length,
              undecodable,
              credentials,
              error: err ?? undefined,
              response: response ? CommandResponse.decode(response) : undefined,
            }),
          ),
        );
      }

      async function runStream(plan: StreamPlan): Promise<StreamOutcome> {
        const credentials = pool.credentials(plan.token);
        const stream = new WireStream(fuzzer.converse(credentials.metadata, deadline()));
        const frames = plan.frames.map(renderFrame);
        const encoded = frames.map((frame) => ClientFrame.encode(frame).finish());
        const firstOversized = encoded.findIndex((bytes) => bytes.length > RECEIVE_LIMIT);
        for (const frame of frames) stream.write(frame);
        if (plan.ending === 'cancel') {
          await sleep(1);
          stream.cancel();
        } else {
          stream.call.end();
        }
        const final = await stream.ended(CALL_DEADLINE_MS + 1_000);
        const processed = firstOversized < 0 ? encoded : encoded.slice(0, firstOversized);
        return {
          label: `stream with ${credentials.describe} sending ${brief(plan.frames)}`,
          credentials,
          frames: processed.map((bytes) => ClientFrame.decode(bytes)),
          expectedEnds: [firstOversized < 0 ? status.OK : status.RESOURCE_EXHAUSTED],
          cancelled: plan.ending === 'cancel',
          status: final,
          received: stream.frames,
        };
      }

      async function runRawStream(plan: RawStreamPlan): Promise<StreamOutcome> {
        const credentials = pool.credentials(plan.token);
        const call = raw.makeBidiStreamRequest(CONVERSE_METHOD, passBytes, passBytes, credentials.metadata, deadline());
        const received: ServerFrame[] = [];
        call.on('data', (bytes: Buffer) => received.push(ServerFrame.decode(bytes)));
        call.on('error', () => undefined);
        const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
        const chunks: Uint8Array[] = [];
        for (const chunk of plan.chunks) {
          if ('pause' in chunk) {
            await sleep(chunk.pause);
            continue;
          }
          chunks.push(encodeChunk(chunk, resolveBytes));
          call.write(Buffer.from(chunks[chunks.length - 1]));
        }
        call.end();

        // Frames up to the first bad chunk count; that chunk decides the end. The gRPC layer
        // checks sizes as bytes arrive, ahead of decoding, so a later oversized chunk may win.
        const frames: ClientFrame[] = [];
        const expectedEnds = [status.OK];
        for (const [index, chunk] of chunks.entries()) {
          const frame = chunk.length > RECEIVE_LIMIT ? undefined : decodeClientFrame(chunk);
          if (frame) {
            frames.push(frame);
            continue;
          }
          expectedEnds[0] = chunk.length > RECEIVE_LIMIT ? status.RESOURCE_EXHAUSTED : status.INTERNAL;
          if (chunks.slice(index + 1).some((later) => later.length > RECEIVE_LIMIT)) expectedEnds.push(status.RESOURCE_EXHAUSTED);
          break;
        }
        return {
          label: `raw stream with ${credentials.describe} sending ${brief(plan.chunks)}`,
          credentials,
          frames,
          expectedEnds,
          cancelled: false,
          status: await ended,
          received,
        };
      }

      function checkCommand(outcome: CommandOutcome, ended: Set<string>): void {
        const { request, size, undecodable, credentials, error, response } = outcome;
        const label = `command ${undecodable ? 'of bytes that are no CommandRequest' : brief(request)} (${size} bytes) with ${credentials.describe}`;
        const name = commandNameOf(request);
        const tokenEnded = credentials.token !== undefined && ended.has(credentials.token);
        if (!error) {
          expect(hasNotUtf8(request), `${label} succeeded with a string that is not UTF-8`).to.equal(false);
          expect(response?.text, label).to.be.a('string');
          // Only /LOGIN and /COMMANDS work without a session.
          if (credentials.owner === undefined) expect(['/LOGIN', '/COMMANDS'], `${label} succeeded`).to.include(name);
          if (response?.result?.$case === 'login') expect(response.result.login.user, label).to.not.match(FORBIDDEN_IN_BODY);
          return;
        }
        const answer = `${label} → ${status[error.code]}: ${error.details}`;
        if (undecodable) {
          // Nothing to run: INTERNAL from the gRPC layer (or the size limit first).
          expect(status[error.code], answer).to.equal(size > RECEIVE_LIMIT ? 'RESOURCE_EXHAUSTED' : 'INTERNAL');
          return;
        }
        expect(PROPER_CODES, answer).to.include(error.code);
        expect(error.details, answer).to.be.a('string').and.not.equal('');
        if (size > RECEIVE_LIMIT) expect(status[error.code], answer).to.equal('RESOURCE_EXHAUSTED');
        else if (hasNotUtf8(request)) {
          // Refused before anything reads it: never decoded lossily into some other value.
          expect(status[error.code], answer).to.equal('INVALID_ARGUMENT');
          expect(error.details, answer).to.contain('not valid UTF-8');
        }
        else if (!mode.throttled) expect(status[error.code], answer).to.not.equal('RESOURCE_EXHAUSTED');
        if (error.code === status.UNAUTHENTICATED && credentials.owner !== undefined && !tokenEnded) {
          expect(name, `${answer}: a live session was refused`).to.equal('/LOGIN');
        }
      }

      function checkStream(outcome: StreamOutcome, ended: Set<string>): void {
        const { credentials, frames, received, cancelled } = outcome;
        const { code, details } = outcome.status;
        const got = `${received.filter((f) => f.ready).length} ready, ${received.flatMap((f) => f.receipts).length} receipts, ${received.flatMap((f) => f.errors).length} errors, ${received.flatMap((f) => f.messages).length} messages`;
        const label = `${outcome.label} → ${status[code]}: ${details} (received ${got})`;
        const owner = credentials.owner;
        const tokenEnded = credentials.token !== undefined && ended.has(credentials.token);

        // How it ended.
        const allowed = new Set<status>(outcome.expectedEnds);
        if (owner === undefined || tokenEnded) allowed.add(status.UNAUTHENTICATED);
        if (tokenEnded) allowed.add(status.OK);
        if (mode.throttled) allowed.add(status.RESOURCE_EXHAUSTED);
        if (cancelled) allowed.add(status.CANCELLED);
        expect([...allowed].map((c) => status[c]), label).to.include(status[code]);
        if (code !== status.OK) expect(details, label).to.be.a('string').and.not.equal('');

        // What it received.
        const sentIds = new Set(frames.flatMap((f) => (f.kind?.$case === 'send' ? [answerIdOf(f.kind.send)] : [])));
        const storableIds = new Set(
          frames.flatMap((f) =>
            f.kind?.$case === 'send' && !hasNotUtf8(f) && !FORBIDDEN_IN_BODY.test(f.kind.send.body) ? [f.kind.send.clientId] : [],
          ),
        );
        const notUtf8Frames = frames.filter(hasNotUtf8).length;
        const readies = received.filter((f) => f.ready !== undefined);
        if (owner === undefined) {
          expect(received.flatMap((f) => [...f.messages, ...f.receipts]), `${label}: a stream without a session received`).to.deep.equal([]);
          expect(readies, `${label}: a stream without a session was greeted`).to.deep.equal([]);
        } else {
          expect(readies.length, label).to.be.at.most(1);
          if (readies.length === 1) {
            expect(received[0].ready, `${label}: the greeting comes first`).to.not.equal(undefined);
            expect(readies[0].ready!.user, `${label}: greeted as`).to.equal(owner);
          }
        }
        const errors = received.flatMap((f) => f.errors);
        for (const error of errors) {
          const what = `${label}: frame error ${brief(error)}`;
          expect(Number.isInteger(error.code) && error.code >= 1 && error.code <= 16, what).to.equal(true);
          expect(IMPROPER_FRAME_CODES, what).to.not.include(error.code);
          expect(error.message, what).to.be.a('string').and.not.equal('');
          expect(error.clientId === '' || sentIds.has(error.clientId), `${what}: answers a send that was not made`).to.equal(true);
          if (error.code === status.RESOURCE_EXHAUSTED) {
            expect(mode.throttled, `${what}: throttled with the limits lifted`).to.equal(true);
            expect(error.message, what).to.contain('try again in');
          }
        }
        for (const receipt of received.flatMap((f) => f.receipts)) {
          expect(storableIds.has(receipt.clientId), `${label}: receipt ${brief(receipt)} for a send that is not storable`).to.equal(true);
          expect(receipt.receiver, label).to.not.equal('');
        }
        const inbox: number[] = [];
        for (const message of received.flatMap((f) => f.messages)) {
          const what = `${label}: message ${brief(message)}`;
          expect(message.sender === owner || message.receiver === owner, `${what} is not ${owner}'s`).to.equal(true);
          expect(message.body, what).to.not.match(FORBIDDEN_IN_BODY);
          // Only a room's joins, leaves, kicks and cleared topics carry no text.
          if (message.roomEvent === RoomEvent.ROOM_EVENT_UNSPECIFIED) expect(message.body.trim(), what).to.not.equal('');
          expect(Buffer.byteLength(message.body), what).to.be.at.most(4096);
          if (message.receiver === owner) inbox.push(message.sequence);
        }
        expect(inbox, `${label}: inbox sequences out of order or repeated`).to.deep.equal([...inbox].sort((a, b) => a - b).filter((s, i, all) => all.indexOf(s) === i));

        // A stream that ended normally answered every send.
        if (owner !== undefined && !tokenEnded && !cancelled && code === status.OK) {
          expect(readies, `${label}: never greeted`).to.have.length(1);
          const answers = new Map<string, number>();
          for (const id of [...received.flatMap((f) => f.receipts), ...errors].map((a) => a.clientId)) answers.set(id, (answers.get(id) ?? 0) + 1);
          const sends = new Map<string, number>();
          for (const frame of frames) if (frame.kind?.$case === 'send') sends.set(answerIdOf(frame.kind.send), (sends.get(answerIdOf(frame.kind.send)) ?? 0) + 1);
          const utf8Refusals = errors.filter((e) => e.code === status.INVALID_ARGUMENT && e.message.includes('not valid UTF-8')).length;
          expect(utf8Refusals, `${label}: refusals of frames with strings that are not UTF-8`).to.equal(notUtf8Frames);
          for (const [id, count] of sends) {
            if (id === '') continue;
            expect(answers.get(id) ?? 0, `${label}: answers to the sends with client_id ${brief(id)}`).to.equal(count);
          }
          const unlabelled =
            (sends.get('') ?? 0) +
            frames.filter((f) => f.kind === undefined).length +
            frames.filter((f, i) => i > 0 && f.kind?.$case === 'resume').length;
          expect(answers.get('') ?? 0, `${label}: errors without a client_id`).to.be.at.least(unlabelled);
        }
      }

      async function checkServing(): Promise<void> {
        const serving = await new Promise<string>((resolve, reject) =>
          health.check({ service: '' }, (err, response) => (err ? reject(err) : resolve(response!.status))),
        );
        expect(serving, 'health after the batch').to.equal('SERVING');
        const time = await observer.command('/TIME');
        expect(time.result?.$case, '/TIME after the batch').to.equal('time');
        // Nothing the batch opened is left behind: only the two chatting streams remain.
        await eventually('the batch’s streams to close', () => server.server.streamCount() === PAIR_NAMES.length, 5_000);
      }
    });
  }
});

/** The command a request names, as the server looks it up ("/LOGIN"), or undefined for no command. */
function commandNameOf(request: CommandRequest): string | undefined {
  const input = request.input;
  if (input?.$case === 'line') {
    const word = input.line.trim().split(/\s+/)[0];
    return word.startsWith('/') ? `/${word.slice(1).toUpperCase()}` : undefined;
  }
  if (input?.$case === 'invocation') return `/${input.invocation.name.replace(/^\//, '').toUpperCase()}`;
  return undefined;
}
