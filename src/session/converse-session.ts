import { performance } from 'node:perf_hooks';
import { asChatError, ChatError, type ErrorCode } from '../chat/errors';
import { emptyBatch, type FrameSink, type InboundFrame } from './frames';
import { OutboundPump } from './outbound-pump';
import type { AckRecorder } from '../chat/ack-recorder';
import type { Caller } from '../chat/accounts';
import type { Messaging, SendRequest } from '../chat/messaging';
import { isRoomName } from '../chat/room-names';
import { roomPostReceipt, type Rooms } from '../chat/rooms';
import { SendOrder } from '../chat/send-order';
import type { Logger } from '../log';
import type { ServerMetrics, StreamCutOffReason } from '../ops/metrics';
import type { OnlineRegistry, Subscriber } from '../queue/online-registry';
import type { OutboundQueue } from '../queue/outbound-queue';
import type { PresenceChange } from '../queue/presence-watchers';
import type { Store } from '../store/store';
import { PresenceWatch, type WatchRequest } from './presence-watch';

/** What every session uses; one set per server. */
export interface SessionServices {
  store: Store;
  messaging: Messaging;
  rooms: Rooms;
  registry: OnlineRegistry;
  acks: AckRecorder;
  logger: Logger;
  metrics: ServerMetrics;
  /** This server node's name, told to clients in the greeting. */
  nodeName: string;
}

/** Sends awaiting the store plus answers awaiting the client before the stream stops reading more frames. */
const MAX_SENDS_IN_FLIGHT = 512;

/** Before the first frame, delivery has not begun; after it, the pump runs; closed is final. */
type Phase = 'waiting' | 'open' | 'closed';

/**
 * One Converse stream of one user: its inbound half, plus the OutboundPump
 * that writes to it.
 *
 * Delivery starts with the client's first frame: a resume names the position
 * (else the user's last acknowledged sequence), and the pump writes from
 * there. Sends go to the store (through the batcher) and are routed once
 * durable, so a receipt is only written after its commit; acks are
 * recorded; a resume is only valid as the first frame. The session is the
 * reader of the user's queue: it wakes the pump, and it ends the stream when
 * the queue cuts it off.
 *
 * Presence: until its first frame a stream watches everyone (so a client
 * that wants everyone misses nothing); the resume's watch_users (or
 * watch_presence) and later Watch frames set whom it watches (PresenceWatch).
 */
export class ConverseSession implements Subscriber {
  readonly userId: number;
  readonly userName: string;
  readonly tokenHash: string;

  private phase: Phase = 'waiting';
  private queue: OutboundQueue | undefined;
  /** Writes to the stream; made by open(), which runs before any event reaches the session. */
  private pump: OutboundPump | undefined;
  /** Newest inbox sequence known when delivery began. */
  private knownLast = 0;
  /** The user's acknowledged position as read when the stream opened. */
  private ackedWhenOpened = 0;
  private sendsInFlight = 0;
  /** Sends are stored in the order the client made them, whatever their lookups cost; made by the first send. */
  private sendOrder: SendOrder | undefined;
  private inputPaused = false;
  /** The client half-closed: end once its sends are answered and nothing is waiting. */
  private finishing = false;
  /** Why the stream is being cut off, when the error code alone does not say. */
  private cutOffReason: StreamCutOffReason | undefined;
  private readonly watching: PresenceWatch;

  constructor(
    private readonly services: SessionServices,
    private readonly caller: Caller,
    private readonly sink: FrameSink,
  ) {
    this.userId = caller.user.id;
    this.userName = caller.user.name;
    this.tokenHash = caller.session.tokenHash;
    this.watching = new PresenceWatch(services.registry, services.store, {
      subscriber: this,
      sendPresence: (changes) => this.pump?.presence(changes),
      keepPresence: (watched) => this.pump?.keepPresence(watched),
      refuse: (error) => this.reject(error),
      failed: (err) => this.failed('watch-failed', err),
      settled: () => this.maybeFinish(),
      isClosed: () => this.phase === 'closed',
    });
  }

  /** Attaches to the user's queue and greets the client. */
  async open(): Promise<void> {
    // Attach before reading the position: anything stored from now on is
    // either in the queue or in the store read that follows, or both.
    const queue = this.services.registry.attach(this);
    this.queue = queue;
    this.pump = new OutboundPump({
      queue,
      reader: this,
      sink: this.sink,
      metrics: this.services.metrics,
      readInbox: (after, limit) => this.services.store.inboxAfter(this.userId, after, limit),
      onIdle: () => this.maybeFinish(),
      onFailed: (event, err) => this.failed(event, err),
      onAnswered: () => this.maybeResumeInput(),
    });
    // The one read of the user's positions: delivery begins from it, and
    // whatever is stored after it reaches the queue attached above.
    const user = await this.services.store.findUserById(this.userId);
    if (this.phase === 'closed') return;
    this.knownLast = Math.max(user?.lastSequence ?? 0, this.queue.lastSequence);
    this.ackedWhenOpened = user?.ackedSequence ?? 0;
    this.services.logger.info('stream-open', { user: this.userName });
    this.services.metrics.streamOpened();
    this.sink.write({
      ...emptyBatch(),
      greeting: {
        user: this.userName,
        lastSequence: this.knownLast,
        ackedSequence: this.services.acks.latest(this.userId, this.ackedWhenOpened),
        maxBodyBytes: this.services.messaging.maxBodyBytes,
        node: this.services.nodeName,
      },
    });
  }

  /** Handles one client frame. */
  receive(frame: InboundFrame): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'waiting') {
      if (frame.kind === 'resume') {
        const everyone = frame.watchPresence && frame.watchUsers.length === 0;
        void this.begin(frame.afterSequence, { everyone, users: frame.watchUsers });
        return;
      }
      void this.begin(undefined, { everyone: false, users: [] });
    } else if (frame.kind === 'resume') {
      this.reject(new ChatError('failed-precondition', 'resume is only valid as the first frame of a stream — open a new stream to resume from elsewhere'));
      return;
    }
    switch (frame.kind) {
      case 'send':
        void this.send(frame);
        break;
      case 'ack':
        this.ack(frame.sequence);
        break;
      case 'watch':
        void this.watching.set({ everyone: frame.everyone, users: frame.users });
        break;
      case 'empty':
        this.reject(new ChatError('invalid-argument', 'empty frame: set one of send, ack, resume or watch'));
        break;
      case 'invalid':
        this.reject(frame.error, frame.clientId);
        break;
    }
  }

  /** The client went away (cancelled): the stream ends now. */
  clientGone(): void {
    this.close();
  }

  /**
   * The client half-closed: it sends nothing more. The stream still delivers
   * the backlog and the receipts of its sends, then ends with OK, so scripts
   * (grpcurl, buf curl) get their answers and return.
   */
  clientFinished(): void {
    if (this.phase === 'closed') return;
    this.finishing = true;
    if (this.phase === 'waiting') void this.begin(undefined, { everyone: false, users: [] });
    else this.maybeFinish();
  }

  private maybeFinish(): void {
    if (
      this.finishing &&
      this.phase === 'open' &&
      this.sendsInFlight === 0 &&
      !this.watching.busy &&
      this.pump?.idle
    ) {
      this.close();
    }
  }

  wake(): void {
    this.pump?.wake();
  }

  presence(changes: PresenceChange[]): void {
    this.pump?.presence(changes);
  }

  overflow(limit: number): void {
    this.services.logger.info('stream-overflow', { user: this.userName, limit });
    this.cutOffReason = 'lagging';
    this.close(
      new ChatError(
        'resource-exhausted',
        `this stream fell more than ${limit} deliveries behind and was closed — reconnect and resume; nothing is lost`,
      ),
    );
  }

  close(error?: ChatError): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.pump?.stop();
    const wasLast = this.services.registry.detach(this);
    this.sink.end(error);
    this.services.logger.info('stream-close', { user: this.userName, status: error?.code ?? 'ok' });
    if (error) this.services.metrics.streamCutOff(this.cutOffReason ?? cutOffReasonOf(error.code));
    if (wasLast) {
      this.services.store.touchUser(this.userId, Date.now()).catch((err) => {
        this.services.logger.error('touch-user-failed', { user: this.userName, error: String(err) });
      });
    }
  }

  private async begin(afterSequence: number | undefined, watch: WatchRequest): Promise<void> {
    this.phase = 'open';
    void this.watching.set(watch);
    // open() read the positions after attaching, so the queue holds all that came since.
    const last = Math.max(this.knownLast, this.queue?.lastSequence ?? 0);
    this.knownLast = last;
    let start = afterSequence ?? this.services.acks.latest(this.userId, this.ackedWhenOpened);
    if (start > last) {
      this.reject(new ChatError('invalid-argument', `cannot resume after ${start}: your newest message is ${last}; delivering from there`));
      start = last;
    }
    await this.pump?.start(start);
  }

  private async send(frame: SendRequest): Promise<void> {
    const arrived = performance.now();
    this.sendsInFlight++;
    this.maybePauseInput();
    const sendOrder = (this.sendOrder ??= new SendOrder());
    try {
      if (isRoomName(frame.receiver)) {
        const result = await this.services.rooms.post(this.caller, frame, sendOrder);
        this.services.registry.routeRoom(result);
        this.pump?.answer({ kind: 'receipt', result: roomPostReceipt(result), arrived });
        return;
      }
      const result = await this.services.messaging.send(this.caller, frame, sendOrder);
      // Routed even if this stream has closed meanwhile: the receiver still
      // gets the message live.
      this.services.registry.route(result, this);
      this.pump?.answer({ kind: 'receipt', result, arrived });
    } catch (err) {
      const error = asChatError(err);
      this.services.metrics.messageRefused(error.code);
      if (error.code === 'internal') this.services.logger.error('send-failed', { user: this.userName, error: String(err) });
      this.reject(error, frame.clientId);
    } finally {
      this.sendsInFlight--;
      this.maybeResumeInput();
      this.maybeFinish();
    }
  }

  /**
   * Sends awaiting the store and answers awaiting the client together are
   * bounded: past the limit the stream stops reading client frames, so a
   * client that sends without reading its receipts is slowed down, not
   * buffered without end.
   */
  private get outstanding(): number {
    return this.sendsInFlight + (this.pump?.pendingAnswers ?? 0);
  }

  private maybePauseInput(): void {
    if (!this.inputPaused && this.outstanding >= MAX_SENDS_IN_FLIGHT) {
      this.inputPaused = true;
      this.sink.pauseInput();
    }
  }

  private maybeResumeInput(): void {
    if (this.inputPaused && this.outstanding < MAX_SENDS_IN_FLIGHT / 2 && this.phase !== 'closed') {
      this.inputPaused = false;
      this.sink.resumeInput();
    }
  }

  private ack(sequence: number): void {
    const newest = Math.max(this.pump?.delivered ?? 0, this.knownLast, this.queue?.lastSequence ?? 0);
    if (sequence > newest) {
      this.reject(new ChatError('invalid-argument', `cannot acknowledge ${sequence}: your newest message is ${newest}`));
      return;
    }
    if (sequence > 0) this.services.acks.record(this.userId, sequence);
  }

  /** Answers one frame of this stream with an error; the stream stays open. */
  private reject(error: ChatError, clientId = ''): void {
    this.pump?.answer({ kind: 'error', error, clientId });
    this.maybePauseInput();
  }

  private failed(event: string, err: unknown): void {
    this.services.logger.error(event, { user: this.userName, error: String(err) });
    this.cutOffReason = 'store_error';
    const error = asChatError(err);
    this.close(error.code === 'internal' ? new ChatError('unavailable', 'the server could not read your messages; reconnect and resume') : error);
  }
}

/** The cut-off reason an error status stands for, when the session did not name one itself. */
function cutOffReasonOf(code: ErrorCode): StreamCutOffReason {
  if (code === 'unauthenticated') return 'session_ended';
  if (code === 'unavailable') return 'unavailable';
  return 'other';
}
