import { isUtf8 } from 'node:buffer';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import * as fc from 'fast-check';
import { ClientFrame, CommandRequest } from '../../src/gen/tinychat/v1/chat';
import { DEFAULT_LIMITS } from '../../src/rpc/server';

/**
 * The inputs the fuzz test throws at the server, as fast-check arbitraries:
 * command requests, Converse frames, hand-built protobuf bytes (invalid
 * UTF-8, 64-bit numbers) and bytes that are no protobuf at all. Inputs name
 * test users through PoolUser references, resolved when a batch runs, because
 * the fuzzer itself may end a user's sessions or change their password.
 */

/** The gRPC receive limit the server starts with. */
export const RECEIVE_LIMIT = DEFAULT_LIMITS.maxReceiveBytes;

/** Whichever user holds pool slot `slot` when the input runs. */
export class PoolUser {
  constructor(readonly slot: number) {}

  [fc.toStringMethod](): string {
    return `<pool user ${this.slot}>`;
  }
}

/** Text that may name a pool user. */
export type Text = string | PoolUser;

/** Which credentials a call carries. */
export type TokenPick =
  /** A pool user's session token, under an authorization value built with `scheme` (valid or not). */
  | { pool: number; session: number; scheme: string }
  /** A token that worked once and was ended (by /QUIT or a password change). */
  | { revoked: number }
  | { none: true }
  /** Any printable authorization value. */
  | { header: string };

/** Authorization schemes the server accepts ("Bearer" is case-insensitive, RFC 6750). */
export const VALID_SCHEMES = ['Bearer ', 'bearer ', 'BEARER ', 'Bearer   '];
const INVALID_SCHEMES = ['', 'Basic ', 'Token ', 'Bearer:', 'Bearer x '];

export type RequestPlan = { line: Text[] } | { invocation: { name: string; args: Text[] } } | { nothing: true };

export type FramePlan =
  | { send: { clientId: string; receiver: Text; body: string; kind: number } }
  | { ack: number }
  | { resume: { after: number; watch: boolean; users?: Text[] } }
  | { watch: { users: Text[]; everyone: boolean } }
  | { empty: true };

export interface StreamPlan {
  token: TokenPick;
  frames: FramePlan[];
  /** Half-close after the frames (the server answers everything, then ends with OK), or cancel. */
  ending: 'half-close' | 'cancel';
}

/** Bytes, or a pool user's name as UTF-8 when the input runs. */
export type Bytes = Uint8Array | PoolUser;

export type RawChunk =
  /** Wait this many milliseconds before the next chunk. */
  | { pause: number }
  | { garbage: Uint8Array }
  | { send: { clientId: Bytes; receiver: Bytes; body: Bytes } }
  | { ack: bigint }
  | { resume: { after: bigint; watch: boolean; users?: Bytes[] } }
  | { watch: { users: Bytes[]; everyone: boolean } };

export type RawRequest = { garbage: Uint8Array } | { line: Bytes } | { invocation: { name: Bytes; args: Bytes[] } };

export interface RawStreamPlan {
  token: TokenPick;
  chunks: RawChunk[];
}

export interface RawCommandPlan {
  token: TokenPick;
  request: RawRequest;
}

export interface CommandPlan {
  token: TokenPick;
  request: RequestPlan;
}

/** One batch: everything in it runs at once, then the server is checked. */
export interface Batch {
  commands: CommandPlan[];
  streams: StreamPlan[];
  rawCommands: RawCommandPlan[];
  rawStreams: RawStreamPlan[];
}

/** How the batches are shaped; the default-limits run piles more streams onto fewer users. */
export interface BatchShape {
  poolSize: number;
  /** Pool slots that streams use (the first N). */
  streamSlots: number;
  maxStreams: number;
  maxFramesPerStream: number;
  maxCommands: number;
}

const CONTROL_AND_INVISIBLE = ['\u0000', '\u0001', '\u0007', '\b', '\u001b', '\u007f', '\u0085', '\u009f', '\u200b', '\u200e', '\u202e', '\u2028', '\u2066', '\ufeff', '\r', '\n', '\t'];
const ODD_STRINGS = ['', ' ', '\t', '\n', '\r\n', '\u00a0', '\u3000', '\ufeff', '\ud800', '\udfff', '\uffff', '\ufffd', 'e\u0301', '\u{10ffff}', '%s%n', '${x}', "'; DROP TABLE users; --", '../../etc/passwd'];

/** A string far past some limit: a command line (1024 chars), a body (4096 bytes) or the receive limit. */
const hugeText = fc
  .tuple(fc.constantFrom('x', 'é', '😀', ' ', '\u0000', '\u200b'), fc.constantFrom(1_025, 4_097, RECEIVE_LIMIT / 4, RECEIVE_LIMIT + 1))
  .map(([unit, count]) => unit.repeat(count));

/** Strings of every sort, mostly short. */
const anyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...CONTROL_AND_INVISIBLE), maxLength: 8 }) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_STRINGS) },
  { weight: 1, arbitrary: hugeText },
);

const poolUser = (poolSize: number) => fc.nat({ max: poolSize - 1 }).map((slot) => new PoolUser(slot));

/** Valid names, names of users who exist, and anything else. */
const userName = (poolSize: number, pairNames: string[]): fc.Arbitrary<Text> =>
  fc.oneof(
    { weight: 3, arbitrary: poolUser(poolSize) },
    { weight: 2, arbitrary: roomName },
    { weight: 1, arbitrary: fc.constantFrom(...pairNames, ...pairNames.map((n) => n.toUpperCase()), 'nobody-at-all') },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,33}$/) },
    { weight: 2, arbitrary: anyText },
  );

/** Rooms several fuzz users meet in, valid names of new ones, and names that are not valid. */
const roomName: fc.Arbitrary<Text> = fc.oneof(
  fc.constantFrom('#general', '#GENERAL', '#fuzz', '#', '##', '#a b', `#${'x'.repeat(33)}`, '#ünï'),
  fc.stringMatching(/^#[A-Za-z0-9_.-]{1,33}$/),
);

const COMMAND_WORDS = ['/JOIN', '/join', '/LEAVE', '/ROOMS', '/MEMBERS', '/TOPIC', '/INVITE', '/KICK', '/LOGIN', '/login', '/USERS', '/TIME', '/time', '/START', '/STOP', '/HISTORY', '/SEARCH', '/search', '/COMMANDS', '/PASSWORD', '/QUIT', '/Quit', 'LOGIN', 'TIME', '/', '//', '/NOPE', '/logın', '/ＴＩＭＥ', '/TIME\u0000'];
const NUMBER_WORDS = ['0', '1', '-1', '20', '200', '201', '999999999999999', '1000000000000000', '1e3', '0x10', '١٢', '9'.repeat(40)];

const argument = (poolSize: number, pairNames: string[], poolPassword: string): fc.Arbitrary<Text> =>
  fc.oneof(
    { weight: 3, arbitrary: userName(poolSize, pairNames) },
    { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...NUMBER_WORDS), fc.nat().map(String)) },
    { weight: 2, arbitrary: fc.constant(poolPassword) },
    { weight: 1, arbitrary: fc.constantFrom('private', 'PRIVATE') },
    { weight: 3, arbitrary: anyText },
  );

const separator = fc.constantFrom(' ', ' ', '  ', '\t', '\n', '\u3000', '');

const requestPlan = (poolSize: number, pairNames: string[], poolPassword: string): fc.Arbitrary<RequestPlan> => {
  const arg = argument(poolSize, pairNames, poolPassword);
  const typedLine = fc
    .tuple(fc.constantFrom('', '', ' ', '\t'), fc.oneof(fc.constantFrom(...COMMAND_WORDS), anyText), fc.array(fc.tuple(separator, arg), { maxLength: 4 }))
    .map(([lead, name, args]): Text[] => [lead, name, ...args.flat()]);
  return fc.oneof(
    { weight: 6, arbitrary: typedLine.map((line) => ({ line })) },
    { weight: 2, arbitrary: anyText.map((text) => ({ line: [text] })) },
    {
      weight: 3,
      arbitrary: fc
        .record({ name: fc.oneof(fc.constantFrom(...COMMAND_WORDS), anyText), args: fc.array(arg, { maxLength: 4 }) })
        .map((invocation) => ({ invocation })),
    },
    { weight: 1, arbitrary: fc.constant({ nothing: true as const }) },
  );
};

const tokenPick = (slots: number): fc.Arbitrary<TokenPick> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({ pool: fc.nat({ max: slots - 1 }), session: fc.nat({ max: 1 }), scheme: fc.constantFrom(...VALID_SCHEMES) }),
    },
    { weight: 1, arbitrary: fc.record({ pool: fc.nat({ max: slots - 1 }), session: fc.nat({ max: 1 }), scheme: fc.constantFrom(...INVALID_SCHEMES) }) },
    { weight: 1, arbitrary: fc.nat().map((revoked) => ({ revoked })) },
    { weight: 1, arbitrary: fc.constant({ none: true as const }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[ -~]{0,80}$/).map((header) => ({ header })) },
  );

/** Sequence numbers: 0, small, plausible, and as large as a JavaScript number holds exactly. */
const sequence = fc.oneof(
  fc.constant(0),
  fc.nat({ max: 60 }),
  fc.nat({ max: 100_000 }),
  fc.integer({ min: 2 ** 32 - 2, max: 2 ** 32 + 2 }),
  fc.constant(Number.MAX_SAFE_INTEGER),
  fc.maxSafeNat(),
);

const clientId = fc.oneof(
  { weight: 5, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constantFrom('', 'same-id', 'c'.repeat(64), 'c'.repeat(65)) },
  { weight: 2, arbitrary: anyText },
);

const body = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }) },
  { weight: 3, arbitrary: anyText },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(4096), 'é'.repeat(2048), 'é'.repeat(2049), 'line one\nline two\ttabbed') },
);

const framePlan = (poolSize: number, pairNames: string[]): fc.Arbitrary<FramePlan> =>
  fc.oneof(
    {
      weight: 5,
      // Kinds: plain, action, and numbers no version knows (shown as plain).
      arbitrary: fc.record({ clientId, receiver: userName(poolSize, pairNames), body, kind: fc.constantFrom(0, 0, 1, 2, 99) }).map((send) => ({ send })),
    },
    { weight: 3, arbitrary: sequence.map((ack) => ({ ack })) },
    {
      weight: 2,
      arbitrary: fc
        .record({ after: sequence, watch: fc.boolean(), users: fc.array(userName(poolSize, pairNames), { maxLength: 3 }) })
        .map((resume) => ({ resume })),
    },
    {
      weight: 1,
      arbitrary: fc.record({ users: fc.array(userName(poolSize, pairNames), { maxLength: 4 }), everyone: fc.boolean() }).map((watch) => ({ watch })),
    },
    { weight: 1, arbitrary: fc.constant({ empty: true as const }) },
  );

/** Strings as UTF-8, and byte strings that are not valid UTF-8 (stray, overlong, surrogate, truncated, past U+10FFFF). */
const BAD_UTF8 = [[0xff], [0xfe], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]];
const someBytes = (poolSize: number): fc.Arbitrary<Bytes> =>
  fc.oneof(
    { weight: 3, arbitrary: anyText.map(utf8) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...BAD_UTF8), fc.string({ minLength: 1, maxLength: 10 }))
        .map(([before, bad, after]) => Buffer.concat([utf8(before), Buffer.from(bad), utf8(after)])),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 24 }) },
    { weight: 1, arbitrary: poolUser(poolSize) },
  );

/** Any 64-bit varint, most of them beyond what a JavaScript number holds exactly. */
const uint64 = fc.oneof(
  fc.constantFrom(0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 100n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);

const garbage = fc.oneof(
  { weight: 10, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 48 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(RECEIVE_LIMIT + 16).fill(0xff)) },
);

const rawChunk = (poolSize: number): fc.Arbitrary<RawChunk> =>
  fc.oneof(
    { weight: 2, arbitrary: garbage.map((bytes) => ({ garbage: bytes })) },
    {
      weight: 4,
      arbitrary: fc
        .record({ clientId: fc.oneof(fc.uuid().map(utf8), someBytes(poolSize)), receiver: someBytes(poolSize), body: someBytes(poolSize) })
        .map((send) => ({ send })),
    },
    { weight: 2, arbitrary: uint64.map((ack) => ({ ack })) },
    {
      weight: 2,
      arbitrary: fc.record({ after: uint64, watch: fc.boolean(), users: fc.array(someBytes(poolSize), { maxLength: 3 }) }).map((resume) => ({ resume })),
    },
    {
      weight: 1,
      arbitrary: fc.record({ users: fc.array(someBytes(poolSize), { maxLength: 3 }), everyone: fc.boolean() }).map((watch) => ({ watch })),
    },
    { weight: 1, arbitrary: fc.nat({ max: 3 }).map((pause) => ({ pause })) },
  );

const rawRequest = (poolSize: number): fc.Arbitrary<RawRequest> =>
  fc.oneof(
    { weight: 2, arbitrary: garbage.map((bytes) => ({ garbage: bytes })) },
    { weight: 2, arbitrary: someBytes(poolSize).map((line) => ({ line })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('/LOGIN ', '/START ', '/HISTORY ', '/SEARCH ', '/PASSWORD ', '/JOIN ', '/TOPIC #general '), someBytes(poolSize))
        .map(([name, rest]) => ({ line: rest instanceof PoolUser ? rest : Buffer.concat([utf8(name), rest]) })),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({ name: fc.oneof(fc.constantFrom(...COMMAND_WORDS).map(utf8), someBytes(poolSize)), args: fc.array(someBytes(poolSize), { maxLength: 3 }) })
        .map((invocation) => ({ invocation })),
    },
  );

/** Batches of every kind of input, shaped by `shape`. */
export function batches(shape: BatchShape, pairNames: string[], poolPassword: string): fc.Arbitrary<Batch> {
  const { poolSize, streamSlots } = shape;
  return fc.record({
    commands: fc.array(
      fc.record({ token: tokenPick(poolSize), request: requestPlan(poolSize, pairNames, poolPassword) }),
      { maxLength: shape.maxCommands },
    ),
    streams: fc.array(
      fc.record({
        token: tokenPick(streamSlots),
        frames: fc.array(framePlan(poolSize, pairNames), { maxLength: shape.maxFramesPerStream }),
        ending: fc.constantFrom('half-close', 'half-close', 'half-close', 'cancel'),
      }),
      { maxLength: shape.maxStreams },
    ),
    rawCommands: fc.array(fc.record({ token: tokenPick(poolSize), request: rawRequest(poolSize) }), { maxLength: 4 }),
    rawStreams: fc.array(fc.record({ token: tokenPick(streamSlots), chunks: fc.array(rawChunk(poolSize), { maxLength: 8 }) }), { maxLength: 2 }),
  });
}

export function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

// Protobuf wire format, by hand, so that fields can hold what no encoder writes.

function varint(value: bigint): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0n);
  return Buffer.from(bytes);
}

function bytesField(field: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([varint(BigInt((field << 3) | 2)), varint(BigInt(bytes.length)), bytes]);
}

function varintField(field: number, value: bigint): Buffer {
  return Buffer.concat([varint(BigInt(field << 3)), varint(value)]);
}

/** A raw chunk as the bytes of one Converse request message. */
export function encodeChunk(chunk: Exclude<RawChunk, { pause: number }>, resolve: (bytes: Bytes) => Uint8Array): Uint8Array {
  if ('garbage' in chunk) return chunk.garbage;
  if ('send' in chunk) {
    const { clientId, receiver, body } = chunk.send;
    return bytesField(1, Buffer.concat([bytesField(1, resolve(clientId)), bytesField(2, resolve(receiver)), bytesField(3, resolve(body))]));
  }
  if ('ack' in chunk) return bytesField(2, varintField(1, chunk.ack));
  if ('watch' in chunk) {
    const { users, everyone } = chunk.watch;
    return bytesField(4, Buffer.concat([...users.map((user) => bytesField(1, resolve(user))), varintField(2, everyone ? 1n : 0n)]));
  }
  const { after, watch, users = [] } = chunk.resume;
  return bytesField(3, Buffer.concat([varintField(1, after), varintField(2, watch ? 1n : 0n), ...users.map((user) => bytesField(3, resolve(user)))]));
}

/** A raw request as the bytes of one Command request message. */
export function encodeRawRequest(request: RawRequest, resolve: (bytes: Bytes) => Uint8Array): Uint8Array {
  if ('garbage' in request) return request.garbage;
  if ('line' in request) return bytesField(1, resolve(request.line));
  const { name, args } = request.invocation;
  return bytesField(2, Buffer.concat([bytesField(1, resolve(name)), ...args.map((arg) => bytesField(2, resolve(arg)))]));
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Starts a decoded string whose bytes were not UTF-8 (a lone surrogate: no valid UTF-8 decodes to one). */
const NOT_UTF8 = '\uDBFF<not utf-8>';

/** True for a string decoded by this file from bytes that are not UTF-8. */
export function isNotUtf8(text: string): boolean {
  return text.startsWith(NOT_UTF8);
}

function markedUtf8(bytes: Uint8Array): string {
  return isUtf8(bytes) ? Buffer.from(bytes).toString('utf8') : NOT_UTF8 + Buffer.from(bytes).toString('hex');
}

/**
 * Reads uint64 values past 2^53 as 2^53 - 1 instead of failing: such a value
 * is well-formed protobuf that only a JavaScript number cannot hold. Strings
 * that are not UTF-8 come out marked (isNotUtf8), never merged.
 */
class OracleReader extends BinaryReader {
  constructor(bytes: Uint8Array) {
    super(bytes, markedUtf8);
  }

  override uint64(): bigint | string {
    const value = super.uint64();
    return BigInt(value) > MAX_SAFE ? MAX_SAFE : value;
  }
}

/** The ClientFrame these bytes are, or undefined when they are not a well-formed one. */
export function decodeClientFrame(bytes: Uint8Array): ClientFrame | undefined {
  try {
    return ClientFrame.decode(new OracleReader(bytes));
  } catch {
    return undefined;
  }
}

/** The CommandRequest these bytes are (strings not UTF-8 marked), or undefined when they are not one. */
export function decodeCommandRequest(bytes: Uint8Array): CommandRequest | undefined {
  try {
    return CommandRequest.decode(new OracleReader(bytes));
  } catch {
    return undefined;
  }
}
