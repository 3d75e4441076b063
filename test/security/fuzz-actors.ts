import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import type { CommandResponse, Message } from '../../src/gen/tinychat/v1/chat';
import { eventually } from '../support/eventually';
import { WireClient, type WireStream } from '../support/grpc-client';
import { VALID_SCHEMES, type TokenPick } from './fuzz-inputs';

/**
 * Who takes part in the fuzz test besides the fuzzer's inputs: the pool of
 * users the fuzzer acts as, and the two well-behaved users who chat
 * alongside and must lose nothing.
 */

/** The password of every pool user. */
export const POOL_PASSWORD = 'fuzz pool password';
/** The names of the chatting pair. */
export const PAIR_NAMES = ['alice', 'bob'];
/** How often each of the two chatting users writes (well within the default send rate). */
const CHAT_INTERVAL_MS = 100;
/** Stands for a pool session that could not be replaced; the server knows no such token. */
const NO_SESSION = 'no-session';
/** The chatting pair's password: one the fuzzer never guesses, so it cannot end their sessions. */
const PAIR_PASSWORD = randomBytes(18).toString('base64');

/** The authorization a call carries, and whom it stands for. */
export interface Credentials {
  metadata: grpc.Metadata;
  /** The token sent, if any. */
  token?: string;
  /** The user it logs in as, when it is a live session token under a valid scheme. */
  owner?: string;
  describe: string;
}

/** A session of a pool user; `live` until the fuzzer ends it. */
interface PoolSession {
  token: string;
  live: boolean;
}

interface PoolSlot {
  name: string;
  sessions: PoolSession[];
  /** The fuzzer changed the password: logging in again needs a new name. */
  passwordLost: boolean;
  generation: number;
}

/**
 * The users the fuzzer acts as, two sessions each. The fuzzer may end
 * sessions (/QUIT) and change passwords; after each batch the pool logs in
 * again, or under a new name, so later batches still have live sessions.
 * Under the default limits a login may be refused; the slot then keeps its
 * ended sessions, which the checks know about.
 */
export class UserPool {
  readonly slots: PoolSlot[] = [];
  readonly revoked: string[] = [];

  private constructor(
    private readonly client: WireClient,
    private readonly prefix: string,
  ) {}

  static async create(client: WireClient, prefix: string, size: number): Promise<UserPool> {
    const pool = new UserPool(client, prefix);
    for (let slot = 0; slot < size; slot++) {
      const name = `${prefix}${slot}`;
      pool.slots.push({ name, sessions: [await pool.login(name), await pool.login(name)], passwordLost: false, generation: 0 });
    }
    return pool;
  }

  nameOf(slot: number): string {
    return this.slots[slot].name;
  }

  /** Replaces the sessions the last batch ended, where the server lets it. */
  async refresh(): Promise<void> {
    for (const [index, slot] of this.slots.entries()) {
      if (slot.passwordLost) {
        slot.generation++;
        slot.name = `${this.prefix}${index}g${slot.generation}`;
        slot.passwordLost = false;
        for (const session of slot.sessions) if (!session.live) this.revoke(session.token);
        // The session that changed the password still works, for the old name: set it aside.
        slot.sessions = slot.sessions.map(() => ({ token: NO_SESSION, live: false }));
      }
      for (const [i, session] of slot.sessions.entries()) {
        if (session.live) continue;
        this.revoke(session.token);
        slot.sessions[i] = await this.login(slot.name).catch((err: grpc.ServiceError) => {
          // Throttled (default limits): the slot keeps an ended session for now.
          if (err.code === status.RESOURCE_EXHAUSTED) return { token: NO_SESSION, live: false };
          // The fuzzer registered this name first, with another password.
          if (err.code === status.UNAUTHENTICATED) {
            slot.passwordLost = true;
            return { token: NO_SESSION, live: false };
          }
          throw err;
        });
      }
    }
  }

  /** Marks sessions ended by a batch's successful /QUIT and /PASSWORD calls. */
  recordEnded(outcomes: Array<{ response?: CommandResponse; credentials: Credentials }>): Set<string> {
    const ended = new Set<string>();
    for (const { response, credentials } of outcomes) {
      const kind = response?.result?.$case;
      if (!credentials.token || (kind !== 'loggedOut' && kind !== 'passwordChanged')) continue;
      for (const slot of this.slots) {
        const own = slot.sessions.find((s) => s.token === credentials.token);
        if (!own) continue;
        const endedHere = kind === 'loggedOut' ? [own] : slot.sessions.filter((s) => s !== own);
        if (kind === 'passwordChanged') slot.passwordLost = true;
        for (const session of endedHere) {
          session.live = false;
          ended.add(session.token);
        }
      }
    }
    return ended;
  }

  credentials(pick: TokenPick): Credentials {
    const metadata = new grpc.Metadata();
    if ('none' in pick) return { metadata, describe: 'no token' };
    if ('header' in pick) {
      metadata.set('authorization', pick.header);
      return { metadata, describe: `authorization ${JSON.stringify(pick.header)}` };
    }
    if ('revoked' in pick) {
      const token = this.revoked.length > 0 ? this.revoked[pick.revoked % this.revoked.length] : 'never-issued';
      metadata.set('authorization', `Bearer ${token}`);
      return { metadata, token, describe: 'an ended session token' };
    }
    const slot = this.slots[pick.pool];
    const session = slot.sessions[pick.session];
    metadata.set('authorization', `${pick.scheme}${session.token}`);
    const valid = VALID_SCHEMES.includes(pick.scheme) && session.live;
    return {
      metadata,
      token: session.token,
      owner: valid ? slot.name : undefined,
      describe: `${slot.name}'s ${session.live ? 'live' : 'ended'} token after ${JSON.stringify(pick.scheme)}`,
    };
  }

  private revoke(token: string): void {
    if (token !== NO_SESSION && !this.revoked.includes(token)) this.revoked.push(token);
  }

  private async login(name: string): Promise<PoolSession> {
    const response = await this.client.command(`/LOGIN ${name} ${POOL_PASSWORD}`, undefined);
    if (response.result?.$case !== 'login') throw new Error(`unexpected /LOGIN answer: ${response.text}`);
    return { token: response.result.login.token, live: true };
  }
}

interface SentMessage {
  clientId: string;
  body: string;
}

/**
 * Two well-behaved users who write to each other every CHAT_INTERVAL_MS for
 * as long as the fuzzer runs, each on one stream, never acknowledging (so a
 * fresh stream resuming from 0 replays the whole inbox).
 */
export class ChattingPair {
  readonly sent = new Map<string, SentMessage[]>(PAIR_NAMES.map((name) => [name, []]));
  private timer: NodeJS.Timeout | undefined;
  private count = 0;

  private constructor(
    readonly clients: Map<string, WireClient>,
    readonly streams: Map<string, WireStream>,
  ) {}

  static async start(target: string): Promise<ChattingPair> {
    const clients = new Map<string, WireClient>();
    const streams = new Map<string, WireStream>();
    for (const name of PAIR_NAMES) {
      const client = new WireClient(target);
      await client.login(name, PAIR_PASSWORD);
      const stream = client.converse();
      stream.resume(0);
      await stream.until('the ready frame', (s) => s.frames.some((f) => f.ready !== undefined));
      clients.set(name, client);
      streams.set(name, stream);
    }
    const pair = new ChattingPair(clients, streams);
    pair.timer = setInterval(() => pair.writeOne(), CHAT_INTERVAL_MS / 2);
    return pair;
  }

  stopChatting(): void {
    clearInterval(this.timer);
  }

  /** Checks that every message each wrote was receipted once and delivered once, in order, live and from the store. */
  async verify(): Promise<void> {
    // A short run may end before they said much: let each write a few messages at least.
    await eventually('a few messages from each of the pair', () => this.count >= 6, 5_000);
    this.stopChatting();
    for (const [from, to] of [PAIR_NAMES, [...PAIR_NAMES].reverse()]) {
      const sent = this.sent.get(from)!;
      const fromStream = this.streams.get(from)!;
      const toStream = this.streams.get(to)!;
      await fromStream.until(`receipts for all ${sent.length} messages of ${from}`, (s) => s.receipts.length >= sent.length, 10_000);
      await toStream.until(`delivery of all ${sent.length} messages of ${from}`, (s) => s.messages.filter((m) => m.sender === from).length >= sent.length, 10_000);
      for (const stream of [fromStream, toStream]) {
        expect(stream.errors, 'frame errors on a chatting stream').to.deep.equal([]);
        expect(stream.status, 'a chatting stream ended').to.equal(undefined);
      }
      const receipts = sent.map((message) => {
        const matching = fromStream.receipts.filter((r) => r.clientId === message.clientId);
        expect(matching.map((r) => r.duplicate), `receipts for ${message.clientId}`).to.deep.equal([false]);
        return matching[0];
      });
      const live = toStream.messages.filter((m) => m.sender === from);
      expect(live.map((m) => m.body), `what ${to} received live from ${from}`).to.deep.equal(sent.map((m) => m.body));
      expect(live.map((m) => m.sequence), `sequences ${to} received live`).to.deep.equal(receipts.map((r) => r.sequence));
      expectContiguous(toStream.messages, `${to}'s live stream`);

      const replay = await this.replayInbox(to);
      const stored = replay.filter((m) => m.sender === from);
      expect(stored.map((m) => m.body), `${to}'s inbox replayed from ${from}`).to.deep.equal(sent.map((m) => m.body));
      expect(stored.map((m) => m.id), `ids in ${to}'s inbox`).to.deep.equal(receipts.map((r) => r.id));
    }
  }

  async close(): Promise<void> {
    this.stopChatting();
    for (const stream of this.streams.values()) if (stream.status === undefined) stream.cancel();
    await Promise.all([...this.streams.values()].map((stream) => stream.ended()));
    for (const client of this.clients.values()) client.close();
  }

  /** Reads `name`'s whole inbox on a fresh stream. */
  private async replayInbox(name: string): Promise<Message[]> {
    const stream = this.clients.get(name)!.converse();
    try {
      stream.resume(0);
      await stream.until('the ready frame', (s) => s.frames.some((f) => f.ready !== undefined));
      const last = stream.frames.find((f) => f.ready)!.ready!.lastSequence;
      await stream.until(`all ${last} messages of ${name}'s inbox`, (s) => s.messages.length >= last, 10_000);
      expectContiguous(stream.messages, `${name}'s replayed inbox`);
      expect(stream.messages).to.have.length(last);
      return stream.messages;
    } finally {
      stream.cancel();
      await stream.ended();
    }
  }

  private writeOne(): void {
    const from = PAIR_NAMES[this.count % 2];
    const to = PAIR_NAMES[(this.count + 1) % 2];
    const n = ++this.count;
    const body = n % 7 === 0 ? `${from} #${n}:\nsee you at 5 ✓` : `${from} #${n} — grüße 👋`;
    const clientId = `${from}-${n}`;
    this.sent.get(from)!.push({ clientId, body });
    this.streams.get(from)!.send(to, body, clientId);
  }
}

function expectContiguous(messages: Message[], what: string): void {
  expect(messages.map((m) => m.sequence), `sequences on ${what}`).to.deep.equal(messages.map((_, i) => i + 1));
}
