import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { FilesClient } from '../gen/tinychat/v1/files';
import type { FileInfo } from '../gen/tinychat/v1/chat';
import { credentials, Metadata, status as Status, type ChannelCredentials, type ClientOptions, type StatusObject } from '@grpc/grpc-js';
import {
  ChatClient,
  MessageKind,
  RoomEvent,
  type CommandRequest,
  type CommandResponse,
  type Ready,
  type ServerFrame,
} from '../gen/tinychat/v1/chat';
import { isRoomName } from '../chat/room-names';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { CommandCaller } from './command-caller';
import { openConverse, type ConverseStream } from './converse-stream';
import { DeliveryFilter } from './delivery-filter';
import { ClientError, toClientError } from './errors';
import type { ConnectionEvents, ConnectionState, StateChange } from './events';
import { Outbox, type PendingSend } from './outbox';
import { PresenceInterest } from './presence-interest';
import { SendPump, type WriteOutcome } from './send-pump';

export { ClientError } from './errors';
export type { PendingSend } from './outbox';
export type { ConnectionEvents, ConnectionState, FailedSend, SentMessage, StateChange } from './events';

/** How to reach the server and as whom. */
export interface ConnectionOptions {
  /**
   * The server's address, host:port, or several nodes of one chat separated
   * by commas: when one cannot be reached or sends the client away, the
   * connection moves to the next and resumes where it was.
   */
  server: string;
  /** The name to log in as. */
  user: string;
  /** The password; the first login of a name sets it. Empty with a saved `token`. */
  password: string;
  /**
   * A session token saved by an earlier run: the connection uses it instead
   * of logging in. Without a password, a token the server refuses fails with
   * UNAUTHENTICATED.
   */
  token?: string;
  /**
   * False: log in to an existing account only; connect() then fails with
   * NOT_FOUND for a name nobody registered. True (the default): the first
   * login of a name registers it.
   */
  register?: boolean;
  /** Connect with TLS; `ca` replaces the system's trusted CAs, `cert`/`key` are for mutual TLS. */
  tls?: ClientTls;
  /** Delays between reconnect attempts; 250 ms doubling to 5 s by default. */
  backoff?: BackoffOptions;
  /**
   * How long connect() keeps trying, with backoff, while the server cannot
   * be reached; 0 (the default) tries once.
   */
  connectTimeoutMs?: number;
  /** How long a command, or the start of the stream, may take; 10 s by default. */
  callTimeoutMs?: number;
  /** How long to gather shown messages before acknowledging them; 200 ms by default. */
  ackDelayMs?: number;
  /**
   * Whose presence to be told about ('presence' events): the people the
   * client shows; nobody by default. Change it later with `watch`.
   * 'everyone' asks for every user's changes, which costs the server work
   * for every watcher on every change: only for small chats and tools.
   */
  watch?: readonly string[] | 'everyone';
}

/** TLS settings of a client; all PEM. */
export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const DEFAULT_CALL_TIMEOUT_MS = 10_000;
const DEFAULT_ACK_DELAY_MS = 200;
// On close, how long the stream may take to finish after the last ack was
// written, and how long /QUIT may take; closing must never hang.
const CLOSE_STREAM_WAIT_MS = 500;
const CLOSE_QUIT_TIMEOUT_MS = 2000;
const KEEPALIVE_TIME_MS = 30_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;

/** Stream endings after which another node may serve better than this one. */
const FAIL_OVER_ON = new Set<number>([Status.UNAVAILABLE, Status.CANCELLED, Status.INTERNAL, Status.UNKNOWN, Status.DEADLINE_EXCEEDED]);

/** "a:1, b:2" → ["a:1", "b:2"]; at least one address. */
function parseServers(server: string): string[] {
  const servers = server.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return servers.length > 0 ? servers : [server];
}

function lineRequest(line: string): CommandRequest {
  return { loginOnly: false, input: { $case: 'line', line } };
}

/** True for the status grpc-js gives a stream whose request exceeded the server's max receive size. */
function isRequestTooLarge(status: StatusObject): boolean {
  return status.code === Status.RESOURCE_EXHAUSTED && /Received message larger than max/i.test(status.details ?? '');
}

function commandName(line: string): string {
  return line.trim().split(/\s+/, 1)[0].replace(/^\//, '').toUpperCase();
}

async function waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * One user's connection to a TinyChat server, for any user interface: it
 * logs in, keeps a Converse stream open, reconnects with backoff when the
 * stream ends, and resumes where it left off, so that every message is
 * emitted exactly once and every send is stored exactly once.
 *
 * Sends are kept until the server confirms them and are written one at a
 * time, in order; a send the server refuses for the rate is written again,
 * with the same clientId, after the wait it names, and so is the oldest
 * unconfirmed send after every reconnect. Shown messages are
 * acknowledged shortly after they are emitted, so a later start of the client
 * begins after them.
 */
export class ChatConnection extends EventEmitter<ConnectionEvents> {
  /** Every address given, in order. */
  readonly servers: readonly string[];
  private readonly clients = new Map<string, ChatClient>();
  private readonly filesClients = new Map<string, FilesClient>();
  private readonly clientOptions: ClientOptions;
  private readonly channelCredentials: ChannelCredentials;
  private serverIndex = 0;
  /** Addresses still to try before waiting with backoff (refilled on every success). */
  private failoversLeft: number;
  private nodeName: string | undefined;
  private readonly commands: CommandCaller;
  private readonly backoff: Backoff;
  private readonly callTimeoutMs: number;
  private readonly ackDelayMs: number;
  private readonly connectTimeoutMs: number;
  // Ends a wait between first connection attempts early, when the connection is closed.
  private endConnectWait: (() => void) | undefined;
  private readonly filter = new DeliveryFilter();
  private readonly outbox = new Outbox();
  private readonly pump = new SendPump(this.outbox);
  private readonly interest = new PresenceInterest();
  private watchEveryone = false;

  private userName: string;
  private registeredName: string | undefined;
  private current: ConnectionState = 'idle';
  private stream: ConverseStream | undefined;
  // True once resume has been written: only then may sends and acks follow.
  private streamReady = false;
  private everConnected = false;
  private serverAcked = 0;
  // The largest body the server accepts, from its latest ready (undefined: not told).
  private maxBodyBytes: number | undefined;
  // The newest inbox sequence the server announced in its latest ready.
  private announcedLast = 0;
  private readonly caughtUpWaiters = new Set<() => void>();
  private ackTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private closed: Promise<CommandResponse | undefined> | undefined;

  constructor(options: ConnectionOptions) {
    super();
    this.servers = parseServers(options.server);
    this.failoversLeft = this.servers.length - 1;
    this.userName = options.user;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.ackDelayMs = options.ackDelayMs ?? DEFAULT_ACK_DELAY_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 0;
    const backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.backoff = new Backoff(backoff);
    this.filter.setUser(options.user);
    if (options.watch === 'everyone') this.watchEveryone = true;
    else this.interest.replace(options.watch ?? []);
    this.channelCredentials = options.tls
      ? credentials.createSsl(options.tls.ca ?? null, options.tls.key ?? null, options.tls.cert ?? null)
      : credentials.createInsecure();
    this.clientOptions = {
      // grpc-js waits between connection attempts too (1 s growing to 2 min by
      // default) and fails calls fast meanwhile; keep it no slower than ours.
      'grpc.initial_reconnect_backoff_ms': backoff.initialMs,
      'grpc.max_reconnect_backoff_ms': backoff.maxMs,
      // Pings notice a connection that died silently (sleep, NAT timeout),
      // which would otherwise leave the stream waiting forever.
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    };
    this.commands = new CommandCaller(() => ({ client: this.client, server: this.server }), options.user, options.password, this.callTimeoutMs, (login) =>
      {
        this.setUser(login.user);
        if (login.registered) this.registeredName = login.user;
      },
      options.register === false,
      options.token,
    );
  }

  /** The session token in use, once logged in (to save it for the next run). */
  get sessionToken(): string | undefined {
    return this.commands.currentToken;
  }

  /** True when a login of this connection registered the name (a new account). */
  get registeredAccount(): boolean {
    return this.registeredName !== undefined;
  }

  /** The address this connection talks to now. */
  get server(): string {
    return this.servers[this.serverIndex];
  }

  /** The name of the server node of the current stream (from its greeting), once known. */
  get node(): string | undefined {
    return this.nodeName;
  }

  /**
   * A Files client on the server this connection talks to now, with the
   * session's token (logging in first if needed): file bytes travel on calls
   * of their own, beside the stream.
   */
  async files(): Promise<{ client: FilesClient; metadata: Metadata }> {
    const token = await this.commands.session();
    let client = this.filesClients.get(this.server);
    if (!client) {
      client = new FilesClient(this.server, this.channelCredentials, this.clientOptions);
      this.filesClients.set(this.server, client);
    }
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return { client, metadata };
  }

  private get client(): ChatClient {
    let client = this.clients.get(this.server);
    if (!client) {
      client = new ChatClient(this.server, this.channelCredentials, this.clientOptions);
      this.clients.set(this.server, client);
    }
    return client;
  }

  /**
   * After a failure that another node could avoid: moves to the next address
   * and says whether to try it at once (true) or, having tried them all
   * since the last success, to wait with backoff first (false).
   */
  private failOver(): boolean {
    if (this.servers.length === 1) return false;
    this.serverIndex = (this.serverIndex + 1) % this.servers.length;
    if (this.failoversLeft <= 0) return false;
    this.failoversLeft--;
    return true;
  }

  /**
   * Replaces whose presence this connection is told about. Sends a Watch
   * frame only when the set changed (names compared regardless of case);
   * each person entering it has their current state reported at once, as a
   * 'presence' event. Returns true when the set changed.
   */
  watch(users: Iterable<string>): boolean {
    const changed = this.interest.replace(users) || this.watchEveryone;
    this.watchEveryone = false;
    if (changed && this.stream && this.streamReady) {
      this.stream.write({ kind: { $case: 'watch', watch: { users: this.interest.names, everyone: false } } });
    }
    return changed;
  }

  /** The people this connection watches now. */
  get watching(): string[] {
    return this.interest.names;
  }

  /** The logged-in user's name, in the spelling the server registered once known. */
  get user(): string {
    return this.userName;
  }

  /** Where the connection is now. */
  get state(): ConnectionState {
    return this.current;
  }

  /** Highest inbox sequence emitted (or acknowledged before this connection started); 0 before connect. */
  get lastSequence(): number {
    return this.filter.lastSequence ?? 0;
  }

  /** Sends not yet confirmed or refused, oldest first. */
  pendingSends(): PendingSend[] {
    return this.outbox.list();
  }

  /**
   * Logs in and opens the stream. Resolves once the server greeted the
   * stream. While the server cannot be reached it tries again with backoff,
   * as after a lost connection, for up to connectTimeoutMs, announcing each
   * wait as a 'reconnecting' state with reconnect false. Rejects with a
   * ClientError saying what to do when that time is up or the server refuses
   * (a wrong password, a bad name: at once), and the connection is then
   * closed. After success, lost connections are re-established on their own.
   */
  async connect(): Promise<void> {
    if (this.current !== 'idle') throw new Error('connect() may only be called once per connection');
    const deadline = Date.now() + this.connectTimeoutMs;
    for (;;) {
      this.setState({ state: 'connecting', reconnect: false });
      try {
        await this.attempt();
        return;
      } catch (err) {
        const error = toClientError(err, this.server);
        const immediately = error.retryable && this.failOver();
        // The last wait is cut short so that the final attempt falls within the timeout.
        const delayMs = Math.min(immediately ? 0 : this.backoff.next(), deadline - Date.now());
        if (!error.retryable || this.closing || (delayMs <= 0 && !immediately)) {
          await this.close();
          throw error;
        }
        this.setState({ state: 'reconnecting', reconnect: false, delayMs, reason: error.message, server: this.server });
        await new Promise<void>((resolve) => {
          this.endConnectWait = resolve;
          this.reconnectTimer = setTimeout(resolve, delayMs);
        });
        this.endConnectWait = undefined;
        if (this.closing) throw new ClientError('the connection was closed before it was ready', Status.CANCELLED);
      }
    }
  }

  /**
   * Sends a message and returns its clientId. The send is written now when
   * connected, otherwise after the next (re)connect, and answered by a
   * 'receipt' or 'send-failed' event with the same clientId.
   */
  send(receiver: string, body: string, options: { action?: boolean; file?: FileInfo } = {}): string {
    if (this.closing) {
      throw new ClientError('the connection is closed — start the client again to send messages', Status.FAILED_PRECONDITION);
    }
    const send: PendingSend = {
      clientId: randomUUID(),
      receiver,
      body,
      ...(options.action ? { action: true } : {}),
      ...(options.file ? { file: options.file } : {}),
    };
    this.outbox.add(send);
    this.pump.added();
    return send.clientId;
  }

  /**
   * Runs a slash command as typed ("/USERS", "/START bob"). Logs in again
   * once if the session was forgotten. Rejects with a ClientError carrying
   * the server's explanation and the gRPC status code. /QUIT closes the
   * connection; /LOGIN is refused because a connection belongs to one user.
   */
  async command(line: string): Promise<CommandResponse> {
    if (this.closing) {
      throw new ClientError('the connection is closed — start the client again', Status.FAILED_PRECONDITION);
    }
    const name = commandName(line);
    if (name === 'QUIT') {
      const response = await this.shutdown();
      return response ?? { text: 'bye', result: { $case: 'loggedOut', loggedOut: { user: this.userName } } };
    }
    if (name === 'LOGIN') {
      throw new ClientError(
        `you are logged in as ${this.userName} — to use another name, /QUIT and start the client again with that name`,
        Status.FAILED_PRECONDITION,
      );
    }
    return this.commands.run(lineRequest(line));
  }

  /**
   * Runs a command already split into its name and arguments, so that an
   * argument may hold spaces or quotes (a password). Not for /QUIT nor
   * /LOGIN, which command() handles.
   */
  async invoke(name: string, args: string[]): Promise<CommandResponse> {
    if (this.closing) {
      throw new ClientError('the connection is closed — start the client again', Status.FAILED_PRECONDITION);
    }
    return this.commands.run({ loginOnly: false, input: { $case: 'invocation', invocation: { name, args } } });
  }

  /**
   * Resolves true once every send was confirmed or refused, false if
   * timeoutMs passed without any send being answered.
   */
  drain(timeoutMs: number): Promise<boolean> {
    return this.outbox.whenEmpty(timeoutMs);
  }

  /**
   * Resolves true once every inbox message up to the newest one the server
   * announced when the stream opened has been emitted, false if timeoutMs
   * passed first. A client about to close waits for this, so that close()
   * acknowledges what was waiting instead of leaving it to be shown again.
   */
  caughtUp(timeoutMs: number): Promise<boolean> {
    if (this.isCaughtUp()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.caughtUpWaiters.delete(wake);
        resolve(false);
      }, timeoutMs);
      this.caughtUpWaiters.add(wake);
    });
  }

  /**
   * Acknowledges what was shown, ends the stream, ends the session with
   * /QUIT (failures ignored; not with `keepSession`, whose token then still
   * works for a later run) and releases the channel. Nothing reconnects
   * afterwards. Safe to call more than once; the first call decides.
   */
  async close(options: { keepSession?: boolean } = {}): Promise<void> {
    await this.shutdown(options.keepSession ?? false);
  }

  private shutdown(keepSession = false): Promise<CommandResponse | undefined> {
    this.closed ??= this.closeNow(keepSession);
    return this.closed;
  }

  private async closeNow(keepSession: boolean): Promise<CommandResponse | undefined> {
    const ackWritten = this.flushAck();
    this.closing = true;
    this.pump.stop();
    clearTimeout(this.reconnectTimer);
    this.endConnectWait?.();
    clearTimeout(this.ackTimer);
    for (const wake of this.caughtUpWaiters) wake();
    this.caughtUpWaiters.clear();
    const stream = this.stream;
    if (stream) {
      // The last ack is what keeps the next start from showing these messages again.
      await waitAtMost(ackWritten, CLOSE_STREAM_WAIT_MS);
      // Half-closing first lets the server read the last ack before /QUIT ends the session.
      stream.end();
      await waitAtMost(stream.done, CLOSE_STREAM_WAIT_MS);
    }
    let response: CommandResponse | undefined;
    const token = this.commands.currentToken;
    if (token && !keepSession) {
      try {
        response = await this.commands.call(lineRequest('/QUIT'), token, CLOSE_QUIT_TIMEOUT_MS);
      } catch {
        // The session ends on its own when its token expires.
      }
    }
    this.stream?.cancel();
    this.stream = undefined;
    this.streamReady = false;
    for (const client of this.clients.values()) client.close();
    for (const client of this.filesClients.values()) client.close();
    this.setState({ state: 'closed', reconnect: false });
    return response;
  }

  private setState(change: StateChange): void {
    this.current = change.state;
    this.emit('state', change);
  }

  private setUser(name: string): void {
    if (!name) return;
    this.userName = name;
    this.filter.setUser(name);
  }

  private report(error: ClientError): void {
    // An 'error' event nobody listens to would throw; a UI that cares listens.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** Logs in if needed and opens the stream; resolves once it is ready. */
  private async attempt(): Promise<void> {
    const token = await this.commands.session();
    try {
      await this.openStream(token);
    } catch (err) {
      // The server forgot the session (expired, or its data was replaced): log in once more.
      if (!(err instanceof ClientError) || err.code !== Status.UNAUTHENTICATED || this.closing) throw err;
      this.commands.forget(token);
      await this.openStream(await this.commands.session());
      this.emit('notice', `session renewed: logged in again as ${this.userName}`);
    }
  }

  private async openStream(token: string): Promise<void> {
    const closedMeanwhile = () => new ClientError('the connection was closed before it was ready', Status.CANCELLED);
    if (this.closing) throw closedMeanwhile();
    const opening = openConverse(
      this.client,
      token,
      { server: this.server, readyTimeoutMs: this.callTimeoutMs },
      {
        onReady: (stream, ready) => {
          if (this.stream === stream) this.onReady(stream, ready);
        },
        onFrame: (frame) => {
          if (this.stream === opening.stream) this.onFrame(frame);
        },
        onEnd: (status) => {
          if (this.stream !== opening.stream) return;
          this.stream = undefined;
          this.streamReady = false;
          const inFlight = this.pump.detach();
          if (inFlight && isRequestTooLarge(status)) this.failTooLarge(inFlight, status);
          this.onStreamEnd(status, token);
        },
      },
    );
    this.stream = opening.stream;
    this.streamReady = false;
    try {
      await opening.ready;
    } catch (err) {
      if (this.stream === opening.stream) this.stream = undefined;
      throw this.closing ? closedMeanwhile() : err;
    }
  }

  private onReady(stream: ConverseStream, ready: Ready): void {
    this.setUser(ready.user);
    this.serverAcked = ready.ackedSequence;
    this.announcedLast = ready.lastSequence;
    this.maxBodyBytes = ready.maxBodyBytes || undefined;
    this.nodeName = ready.node || undefined;
    const known = this.filter.lastSequence;
    // 0 asks the server to start after the user's acknowledged position.
    let afterSequence = 0;
    if (known === undefined) {
      // First stream: start where the user last acknowledged, on any terminal.
      this.filter.setPosition(ready.ackedSequence);
    } else if (ready.lastSequence < known) {
      // The server has fewer messages than were already shown (its data was
      // replaced or restored); follow the server rather than wait forever.
      this.filter.setPosition(ready.lastSequence);
      afterSequence = ready.lastSequence;
      this.emit(
        'notice',
        `the server's inbox for ${this.userName} ends at message ${ready.lastSequence}, before the ${known} already shown; continuing from the server's position`,
      );
    } else {
      afterSequence = known;
    }
    // The current watch set, on every stream: the server keeps none across streams.
    const resume = { afterSequence, watchPresence: this.watchEveryone, watchUsers: this.watchEveryone ? [] : this.interest.names };
    stream.write({ kind: { $case: 'resume', resume } });
    this.streamReady = true;
    this.pump.attach((send) => this.writeSend(stream, send));
    this.backoff.reset();
    this.failoversLeft = this.servers.length - 1;
    const reconnect = this.everConnected;
    this.everConnected = true;
    this.setState({ state: 'connected', reconnect, server: this.server, node: this.nodeName });
    if (this.lastSequence > this.serverAcked) this.scheduleAck();
    this.wakeIfCaughtUp();
  }

  private onFrame(frame: ServerFrame): void {
    // Receipts first: should a copy of a send from this stream come back in
    // the same frame, it is then recognised as already shown.
    for (const receipt of frame.receipts) {
      const send = this.outbox.take(receipt.clientId);
      if (!send) continue;
      this.pump.answered(receipt.clientId);
      // A room message comes back in this user's own inbox, known by its
      // sequence; its id is a room entry's, not to be mixed with copies' ids.
      const room = isRoomName(send.receiver) ? receipt.receiver || send.receiver : '';
      if (!room) this.filter.remember(receipt.id);
      this.emit('receipt', {
        clientId: receipt.clientId,
        duplicate: receipt.duplicate,
        message: {
          sender: this.userName,
          receiver: receipt.receiver || send.receiver,
          body: send.body,
          kind: send.action ? MessageKind.MESSAGE_KIND_ACTION : MessageKind.MESSAGE_KIND_UNSPECIFIED,
          file: send.file,
          time: receipt.time,
          id: receipt.id,
          sequence: receipt.sequence,
          room,
          roomEvent: RoomEvent.ROOM_EVENT_UNSPECIFIED,
        },
      });
    }
    let shownInbox = false;
    for (const message of frame.messages) {
      if (!this.filter.accept(message)) continue;
      if (this.filter.isInbox(message)) shownInbox = true;
      this.emit('message', message);
    }
    if (shownInbox) {
      this.scheduleAck();
      this.wakeIfCaughtUp();
    }
    for (const change of frame.presence) this.emit('presence', change);
    for (const error of frame.errors) {
      if (error.retryAfterMs > 0 && error.clientId && this.outbox.has(error.clientId)) {
        // Too fast for the server: not a failure, just a wait.
        this.pump.pace(error.clientId, error.retryAfterMs);
        continue;
      }
      const send = error.clientId ? this.outbox.take(error.clientId) : undefined;
      if (send) {
        this.emit('send-failed', { ...send, code: error.code, reason: error.message });
        this.pump.answered(send.clientId);
      } else this.report(new ClientError(error.message, error.code));
    }
  }

  private onStreamEnd(status: StatusObject, token: string): void {
    if (this.closing) return;
    if (status.code === Status.UNAUTHENTICATED) this.commands.forget(token);
    // A node going away (shutdown, crash, lost its database or bus) sends the
    // client to the next one; anything else is retried where it is.
    const elsewhere = FAIL_OVER_ON.has(status.code) && this.failOver();
    this.scheduleReconnect(this.describeEnd(status), elsewhere ? 0 : undefined);
  }

  private describeEnd(status: StatusObject): string {
    switch (status.code) {
      case Status.OK:
        return 'the server ended the stream';
      case Status.RESOURCE_EXHAUSTED:
        return status.details || 'the client fell behind';
      default:
        return status.details || toClientError(status, this.server).message;
    }
  }

  private scheduleReconnect(reason: string, delayMs = this.backoff.next()): void {
    this.setState({ state: 'reconnecting', reconnect: true, delayMs, reason, server: this.server });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.reconnect();
    }, delayMs);
  }

  private reconnect(): void {
    if (this.closing) return;
    this.setState({ state: 'connecting', reconnect: true });
    this.attempt().catch((err: unknown) => {
      if (this.closing) return;
      const error = toClientError(err, this.server);
      this.scheduleReconnect(error.message, error.retryable && this.failOver() ? 0 : undefined);
    });
  }

  private writeSend(stream: ConverseStream, send: PendingSend): WriteOutcome {
    const bytes = Buffer.byteLength(send.body, 'utf8');
    if (this.maxBodyBytes !== undefined && bytes > this.maxBodyBytes) {
      // Sending it would only earn a refusal; a far larger one would end the stream.
      this.refuseLocally(
        send,
        Status.INVALID_ARGUMENT,
        `the message is ${bytes} bytes; ${this.server} takes at most ${this.maxBodyBytes} bytes per message — split it into several messages`,
      );
      return 'dropped';
    }
    const kind = send.action ? MessageKind.MESSAGE_KIND_ACTION : MessageKind.MESSAGE_KIND_UNSPECIFIED;
    stream.write({ kind: { $case: 'send', send: { clientId: send.clientId, receiver: send.receiver, body: send.body, kind, file: send.file } } });
    return 'written';
  }

  /**
   * grpc-js ended the stream because a request exceeded the server's receive
   * limit; with one send in flight, that send is the cause. Writing it again
   * would end every stream the same way, so it fails instead.
   */
  private failTooLarge(send: PendingSend, status: StatusObject): void {
    this.refuseLocally(
      send,
      Status.RESOURCE_EXHAUSTED,
      `the message is too large for ${this.server} (${status.details}) — split it into several messages`,
    );
  }

  /** Takes a send out of the outbox and reports it failed, after the current call so send() has returned its clientId. */
  private refuseLocally(send: PendingSend, code: number, reason: string): void {
    if (!this.outbox.take(send.clientId)) return;
    process.nextTick(() => this.emit('send-failed', { ...send, code, reason }));
  }

  private scheduleAck(): void {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      void this.flushAck();
    }, this.ackDelayMs);
  }

  /** Writes an ack for everything shown, if needed; resolves once it is written (at once when none was needed). */
  private flushAck(): Promise<void> {
    const last = this.filter.lastSequence;
    if (!this.stream || !this.streamReady || last === undefined || last <= this.serverAcked) return Promise.resolve();
    const stream = this.stream;
    this.serverAcked = last;
    return new Promise((resolve) => stream.write({ kind: { $case: 'ack', ack: { sequence: last } } }, resolve));
  }

  private isCaughtUp(): boolean {
    return this.everConnected && (this.filter.lastSequence ?? 0) >= this.announcedLast;
  }

  private wakeIfCaughtUp(): void {
    if (!this.isCaughtUp()) return;
    for (const wake of this.caughtUpWaiters) wake();
    this.caughtUpWaiters.clear();
  }
}
