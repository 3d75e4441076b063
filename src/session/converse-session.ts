import { performance } from 'node:perf_hooks';
import { asChatError, ChatError, type ErrorCode } from '../chat/errors';
import { emptyBatch, type FrameSink, type InboundFrame, type OutboundBatch } from './frames';
import type { AckRecorder } from '../chat/ack-recorder';
import type { Caller } from '../chat/accounts';
import type { Messaging, SendRequest } from '../chat/messaging';
import { isRoomName } from '../chat/room-names';
import type { Rooms } from '../chat/rooms';
import { SendOrder } from '../chat/send-order';
import type { Logger } from '../log';
import type { ServerMetrics, StreamCutOffReason } from '../ops/metrics';
import type { OnlineRegistry, Subscriber } from '../queue/online-registry';
import type { OutboundQueue } from '../queue/outbound-queue';
import type { AppendResult, Store } from '../store/store';

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

/** Deliveries packed into one frame at most. */
const MAX_DELIVERIES_PER_FRAME = 256;
/** Frames written per pump turn before yielding to other streams. */
const MAX_FRAMES_PER_TURN = 16;
/** Inbox messages read from the store per catch-up page. */
const CATCH_UP_PAGE = 256;
/** Sends awaiting the store before the stream stops reading more frames. */
const MAX_SENDS_IN_FLIGHT = 512;

type Phase = 'waiting' | 'catching-up' | 'live' | 'closed';

/**
 * One Converse stream of one user.
 *
 * Outbound, it is a reader of the user's queue. Delivery starts with the
 * client's first frame: the session first reads the user's inbox from the
 * store after the resume position ("catching up"), then goes live and pumps
 * the queue, packing whatever is waiting into one frame and stopping when the
 * sink asks it to wait for drain. Inbox messages are written strictly in
 * sequence order; anything at or below what this stream already wrote is
 * skipped, and a gap sends the stream back to the store to catch up.
 *
 * Inbound, sends go to the store (through the batcher) and are routed once
 * durable; acks are recorded; a resume is only valid as the first frame.
 */
export class ConverseSession implements Subscriber {
  readonly userId: number;
  readonly userName: string;
  readonly tokenHash: string;

  private phase: Phase = 'waiting';
  private queue: OutboundQueue | undefined;
  /** Highest inbox sequence written on this stream. */
  private delivered = 0;
  /** Newest inbox sequence known when delivery began. */
  private knownLast = 0;
  private watching = false;
  private waitingForDrain = false;
  private pumpScheduled = false;
  private sendsInFlight = 0;
  /** Sends are stored in the order the client made them, whatever their lookups cost. */
  private readonly sendOrder = new SendOrder();
  private inputPaused = false;
  /** The client half-closed: end once its sends are answered and nothing is waiting. */
  private finishing = false;
  /** When each send whose receipt is not written yet arrived (performance.now()), for the receipt latency. */
  private readonly sendArrivals = new Map<AppendResult, number>();
  /** Why the stream is being cut off, when the error code alone does not say. */
  private cutOffReason: StreamCutOffReason | undefined;

  constructor(
    private readonly services: SessionServices,
    private readonly caller: Caller,
    private readonly sink: FrameSink,
  ) {
    this.userId = caller.user.id;
    this.userName = caller.user.name;
    this.tokenHash = caller.session.tokenHash;
  }

  /** Attaches to the user's queue and greets the client. */
  async open(): Promise<void> {
    // Attach before reading the position: anything stored from now on is
    // either in the queue or in the store read that follows, or both.
    this.queue = this.services.registry.attach(this);
    const user = await this.services.store.findUserById(this.userId);
    if (this.phase === 'closed') return;
    this.knownLast = Math.max(user?.lastSequence ?? 0, this.queue.lastSequence);
    this.services.logger.info('stream-open', { user: this.userName });
    this.services.metrics.streamOpened();
    this.sink.send({
      ...emptyBatch(),
      greeting: {
        user: this.userName,
        lastSequence: this.knownLast,
        ackedSequence: this.services.acks.latest(this.userId, user?.ackedSequence ?? 0),
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
        void this.begin(frame.afterSequence, frame.watchPresence);
        return;
      }
      void this.begin(undefined, false);
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
      case 'empty':
        this.reject(new ChatError('invalid-argument', 'empty frame: set one of send, ack or resume'));
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
    if (this.phase === 'waiting') void this.begin(undefined, false);
    else this.maybeFinish();
  }

  private maybeFinish(): void {
    if (
      this.finishing &&
      this.phase === 'live' &&
      this.sendsInFlight === 0 &&
      !this.waitingForDrain &&
      !this.pumpScheduled &&
      !this.queue?.hasPending(this)
    ) {
      this.close();
    }
  }

  wake(): void {
    if (this.phase === 'live') this.schedulePump();
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

  private async begin(afterSequence: number | undefined, watchPresence: boolean): Promise<void> {
    this.phase = 'catching-up';
    this.watching = watchPresence;
    if (!watchPresence) this.services.registry.unwatchPresence(this);
    try {
      const user = await this.services.store.findUserById(this.userId);
      const last = Math.max(user?.lastSequence ?? 0, this.queue?.lastSequence ?? 0);
      this.knownLast = Math.max(this.knownLast, last);
      let start = afterSequence ?? this.services.acks.latest(this.userId, user?.ackedSequence ?? 0);
      if (start > last) {
        this.reject(
          new ChatError('invalid-argument', `cannot resume after ${start}: your newest message is ${last}; delivering from there`),
        );
        start = last;
      }
      this.delivered = start;
    } catch (err) {
      this.failed('resume-failed', err);
      return;
    }
    await this.catchUp();
  }

  /** Writes stored inbox messages after `delivered`, then goes live. */
  private async catchUp(): Promise<void> {
    this.phase = 'catching-up';
    try {
      for (;;) {
        const page = await this.services.store.inboxAfter(this.userId, this.delivered, CATCH_UP_PAGE);
        if (this.phase !== 'catching-up') return;
        const fresh = page.filter((message) => message.sequence > this.delivered);
        if (fresh.length > 0) {
          this.delivered = fresh[fresh.length - 1].sequence;
          for (let i = 0; i < fresh.length; i++) this.services.metrics.messageDelivered();
          await this.write({ ...emptyBatch(), messages: fresh });
          if (this.phase !== 'catching-up') return;
        }
        if (page.length < CATCH_UP_PAGE) break;
      }
    } catch (err) {
      this.failed('catch-up-failed', err);
      return;
    }
    this.phase = 'live';
    this.schedulePump();
    this.maybeFinish();
  }

  private write(batch: OutboundBatch): Promise<void> {
    if (this.sink.send(batch)) return Promise.resolve();
    this.waitingForDrain = true;
    return new Promise((resolve) =>
      this.sink.onDrain(() => {
        this.waitingForDrain = false;
        resolve();
      }),
    );
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.waitingForDrain || this.phase !== 'live') return;
    this.pumpScheduled = true;
    // Deferred to the end of the turn so that deliveries pushed together
    // (one stored batch, a burst of receipts) leave in one frame.
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    const queue = this.queue;
    if (!queue) return;
    for (let frames = 0; frames < MAX_FRAMES_PER_TURN; frames++) {
      if (this.phase !== 'live' || this.waitingForDrain) return;
      const deliveries = queue.read(this, MAX_DELIVERIES_PER_FRAME);
      if (deliveries.length === 0) break;
      const batch = emptyBatch();
      const receiptArrivals: number[] = [];
      let gap = false;
      for (const delivery of deliveries) {
        switch (delivery.kind) {
          case 'message': {
            const sequence = delivery.message.sequence;
            if (gap || sequence <= this.delivered) break;
            if (sequence !== this.delivered + 1) {
              gap = true;
              break;
            }
            batch.messages.push(delivery.message);
            this.delivered = sequence;
            this.services.metrics.messageDelivered(Date.now() - delivery.message.time);
            break;
          }
          case 'copy':
            if (delivery.origin !== this) batch.messages.push(delivery.message);
            break;
          case 'behind':
            if (delivery.sequence > this.delivered) gap = true;
            break;
          case 'receipt':
            if (delivery.target === this) {
              batch.receipts.push(delivery.result);
              const arrived = this.sendArrivals.get(delivery.result);
              if (arrived !== undefined) receiptArrivals.push(arrived);
              this.sendArrivals.delete(delivery.result);
            }
            break;
          case 'error':
            if (delivery.target === this) batch.errors.push({ error: delivery.error, clientId: delivery.clientId });
            break;
          case 'presence':
            if (this.watching) batch.presence.push(...delivery.changes);
            break;
        }
      }
      if (batch.messages.length + batch.receipts.length + batch.errors.length + batch.presence.length > 0) {
        const written = this.sink.send(batch);
        if (receiptArrivals.length > 0) {
          const now = performance.now();
          for (const arrived of receiptArrivals) this.services.metrics.receiptWritten((now - arrived) / 1000);
        }
        if (!written) {
          this.waitingForDrain = true;
          this.sink.onDrain(() => {
            this.waitingForDrain = false;
            if (gap) return;
            this.schedulePump();
          });
        }
      }
      if (gap) {
        // A message is missing from the queue (should not happen within one
        // node); the store has it, so read from there and then carry on.
        void this.resumeFromStoreAfterDrain();
        return;
      }
    }
    if (queue.hasPending(this)) this.schedulePump();
    else this.maybeFinish();
  }

  private async resumeFromStoreAfterDrain(): Promise<void> {
    this.phase = 'catching-up';
    if (this.waitingForDrain) await new Promise<void>((resolve) => this.sink.onDrain(resolve));
    if (this.phase === 'catching-up') await this.catchUp();
  }

  private async send(frame: SendRequest): Promise<void> {
    const arrived = performance.now();
    this.sendsInFlight++;
    if (this.sendsInFlight >= MAX_SENDS_IN_FLIGHT && !this.inputPaused) {
      this.inputPaused = true;
      this.sink.pauseInput();
    }
    try {
      if (isRoomName(frame.receiver)) {
        const result = await this.services.rooms.post(this.caller, frame, this.sendOrder);
        const receipt = this.services.registry.routeRoom(result, this);
        if (receipt && this.phase !== 'closed') this.sendArrivals.set(receipt, arrived);
        return;
      }
      const result = await this.services.messaging.send(this.caller, frame, this.sendOrder);
      if (this.phase !== 'closed') this.sendArrivals.set(result, arrived);
      // Routed even if this stream has closed meanwhile: the receiver still
      // gets the message live.
      this.services.registry.route(result, this);
    } catch (err) {
      const error = asChatError(err);
      this.services.metrics.messageRefused(error.code);
      if (error.code === 'internal') this.services.logger.error('send-failed', { user: this.userName, error: String(err) });
      this.reject(error, frame.clientId);
    } finally {
      this.sendsInFlight--;
      if (this.inputPaused && this.sendsInFlight < MAX_SENDS_IN_FLIGHT / 2 && this.phase !== 'closed') {
        this.inputPaused = false;
        this.sink.resumeInput();
      }
      this.maybeFinish();
    }
  }

  private ack(sequence: number): void {
    const newest = Math.max(this.delivered, this.knownLast, this.queue?.lastSequence ?? 0);
    if (sequence > newest) {
      this.reject(new ChatError('invalid-argument', `cannot acknowledge ${sequence}: your newest message is ${newest}`));
      return;
    }
    if (sequence > 0) this.services.acks.record(this.userId, sequence);
  }

  private reject(error: ChatError, clientId = ''): void {
    this.services.registry.reject(this, error, clientId);
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
