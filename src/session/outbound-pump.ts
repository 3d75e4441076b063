import { performance } from 'node:perf_hooks';
import { writeOrWaitForDrain } from '../streams/write-or-drain';
import { emptyBatch, type FrameSink, type OutboundBatch } from './frames';
import type { ServerMetrics } from '../ops/metrics';
import type { OutboundQueue, QueueReader } from '../queue/outbound-queue';
import type { ChatError } from '../chat/errors';
import type { PresenceChange } from '../queue/presence-watchers';
import type { AppendResult, StoredMessage } from '../store/store';

/** Deliveries packed into one frame at most. */
export const MAX_DELIVERIES_PER_FRAME = 256;
/** Frames written per pump turn before yielding to other streams. */
export const MAX_FRAMES_PER_TURN = 16;
/** Inbox messages read from the store per catch-up page. */
export const CATCH_UP_PAGE = 256;

/**
 * An answer to one of this stream's own frames: a send's receipt (with when
 * the send arrived, performance.now(), for the receipt latency) or a frame's
 * error. Answers never enter the user's shared queue: only this stream wants
 * them, so they must neither cost its sibling streams a place in the queue
 * nor be skipped by them.
 */
export type Answer =
  | { kind: 'receipt'; result: AppendResult; arrived: number }
  | { kind: 'error'; error: ChatError; clientId: string };

/** What one stream's pump reads from and writes to. */
export interface OutboundPumpParts {
  /** The user's shared outbound queue, already attached to `reader`. */
  queue: OutboundQueue;
  /** The stream as the queue knows it: copies of what it sent itself are not written back to it. */
  reader: QueueReader;
  sink: FrameSink;
  metrics: ServerMetrics;
  /** The user's stored inbox after a sequence, oldest first, at most `limit` messages. */
  readInbox(afterSequence: number, limit: number): Promise<StoredMessage[]>;
  /** The pump is live with nothing written, waiting or scheduled: a half-closed stream may end now. */
  onIdle(): void;
  /** Reading the store failed: the stream should end; the pump has stopped writing. */
  onFailed(event: string, err: unknown): void;
  /** Answers were written: the session may read client frames again if it paused for them. */
  onAnswered?(): void;
}

type PumpPhase = 'idle' | 'catching-up' | 'live' | 'stopped';

/**
 * The outbound half of one Converse stream: it turns the user's inbox and
 * queue into ServerFrames.
 *
 * `start` first writes the stored inbox after the resume position ("catching
 * up"), then goes live and pumps the queue, packing whatever is waiting into
 * one frame per write. When the sink says its buffer is full, the pump writes
 * nothing more until 'drain'. Inbox messages leave strictly in sequence
 * order: anything at or below what this stream already wrote is skipped, and
 * a gap sends the pump back to the store to catch up. Nothing is reordered.
 *
 * Presence changes of the people this stream watches do not pass through the
 * shared queue: the registry hands them to the stream, and the pump keeps the
 * latest change per person until its next frame (so what waits is bounded by
 * the watch set).
 *
 * Falling behind is the queue's business: past its limit the queue detaches
 * the reader and calls its `overflow`, and the stream is cut off with
 * RESOURCE_EXHAUSTED (see ConverseSession); the store still has everything.
 *
 * Answers to the stream's own frames (receipts, errors) wait in the pump
 * itself, in the order given, and leave with the next frame. They are
 * bounded by the session, which stops reading client frames while too many
 * sends or answers are outstanding (`pendingAnswers`).
 */
export class OutboundPump {
  private phase: PumpPhase = 'idle';
  /** Highest inbox sequence written on this stream. */
  private writtenUpTo = 0;
  /** Presence changes waiting for the next frame, by user: the latest change per user wins. */
  private readonly pendingPresence = new Map<string, PresenceChange>();
  /** Set while the sink's buffer is full; settles on its 'drain'. */
  private drained: Promise<void> | undefined;
  private scheduled = false;
  /** Receipts and errors for this stream, not written yet. */
  private answers: Answer[] = [];

  constructor(private readonly parts: OutboundPumpParts) {}

  /** Highest inbox sequence written on this stream. */
  get delivered(): number {
    return this.writtenUpTo;
  }

  /** True when live and nothing is being written, waiting for drain, scheduled, queued or answered. */
  get idle(): boolean {
    return (
      this.phase === 'live' &&
      !this.drained &&
      !this.scheduled &&
      this.answers.length === 0 &&
      this.pendingPresence.size === 0 &&
      !this.parts.queue.hasPending(this.parts.reader)
    );
  }

  /** Answers given but not written yet. */
  get pendingAnswers(): number {
    return this.answers.length;
  }

  /** Writes the stored inbox after `afterSequence`, then goes live. */
  async start(afterSequence: number): Promise<void> {
    if (this.phase !== 'idle') return;
    this.writtenUpTo = afterSequence;
    await this.catchUp();
  }

  /** New deliveries are waiting in the queue. */
  wake(): void {
    if (this.phase === 'live') this.schedule();
  }

  /** Writes an answer to one of this stream's frames with the next frame (once live). */
  answer(answer: Answer): void {
    if (this.phase === 'stopped') return;
    this.answers.push(answer);
    this.wake();
  }

  /**
   * Presence changes for this stream, written with its next frame (once
   * live). A newer change of a user replaces one still waiting.
   */
  presence(changes: PresenceChange[]): void {
    if (this.phase === 'stopped') return;
    for (const change of changes) {
      this.pendingPresence.delete(change.user);
      this.pendingPresence.set(change.user, change);
    }
    this.wake();
  }

  /** Drops waiting presence changes of users `keep` says no: the stream stopped watching them. */
  keepPresence(keep: (user: string) => boolean): void {
    for (const user of [...this.pendingPresence.keys()]) if (!keep(user)) this.pendingPresence.delete(user);
  }

  /** Writes nothing more. */
  stop(): void {
    this.phase = 'stopped';
    this.answers = [];
    this.pendingPresence.clear();
  }

  /** Writes stored inbox messages after `writtenUpTo`, then goes live. */
  private async catchUp(): Promise<void> {
    this.phase = 'catching-up';
    try {
      for (;;) {
        const page = await this.parts.readInbox(this.writtenUpTo, CATCH_UP_PAGE);
        if (this.phase !== 'catching-up') return;
        const fresh = page.filter((message) => message.sequence > this.writtenUpTo);
        if (fresh.length > 0) {
          this.writtenUpTo = fresh[fresh.length - 1].sequence;
          for (let i = 0; i < fresh.length; i++) this.parts.metrics.messageDelivered();
          if (!this.write({ ...emptyBatch(), messages: fresh })) await this.drained;
          if (this.phase !== 'catching-up') return;
        }
        if (page.length < CATCH_UP_PAGE) break;
      }
    } catch (err) {
      this.stop();
      this.parts.onFailed('catch-up-failed', err);
      return;
    }
    this.phase = 'live';
    this.schedule();
    this.parts.onIdle();
  }

  /** Writes one frame; false when the sink is full and `drained` is set. */
  private write(batch: OutboundBatch): boolean {
    const waiting = writeOrWaitForDrain(this.parts.sink, batch);
    if (!waiting) return true;
    this.drained = waiting.then(() => {
      this.drained = undefined;
    });
    return false;
  }

  private schedule(): void {
    if (this.scheduled || this.drained || this.phase !== 'live') return;
    this.scheduled = true;
    // Deferred to the end of the turn so that deliveries pushed together
    // (one stored batch, a burst of receipts) leave in one frame.
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.scheduled = false;
    const { queue, reader, metrics } = this.parts;
    for (let frames = 0; frames < MAX_FRAMES_PER_TURN; frames++) {
      if (this.phase !== 'live' || this.drained) return;
      const answers = this.takeAnswers();
      const deliveries = queue.read(reader, MAX_DELIVERIES_PER_FRAME - answers.length);
      if (deliveries.length === 0 && answers.length === 0 && this.pendingPresence.size === 0) break;
      const batch = emptyBatch();
      this.takePresence(batch);
      const receiptArrivals: number[] = [];
      for (const answer of answers) {
        if (answer.kind === 'receipt') {
          batch.receipts.push(answer.result);
          receiptArrivals.push(answer.arrived);
        } else {
          batch.errors.push({ error: answer.error, clientId: answer.clientId });
        }
      }
      let gap = false;
      for (const delivery of deliveries) {
        switch (delivery.kind) {
          case 'message': {
            const sequence = delivery.message.sequence;
            if (gap || sequence <= this.writtenUpTo) break;
            if (sequence !== this.writtenUpTo + 1) {
              gap = true;
              break;
            }
            batch.messages.push(delivery.message);
            this.writtenUpTo = sequence;
            metrics.messageDelivered(Date.now() - delivery.message.time);
            break;
          }
          case 'copy':
            if (delivery.origin !== reader) batch.messages.push(delivery.message);
            break;
          case 'behind':
            if (delivery.sequence > this.writtenUpTo) gap = true;
            break;
        }
      }
      if (batch.messages.length + batch.receipts.length + batch.errors.length + batch.presence.length > 0) {
        const written = this.write(batch);
        if (receiptArrivals.length > 0) {
          const now = performance.now();
          for (const arrived of receiptArrivals) metrics.receiptWritten((now - arrived) / 1000);
        }
        if (answers.length > 0) this.parts.onAnswered?.();
        if (!written && !gap) void this.drained!.then(() => this.schedule());
      }
      if (gap) {
        // A message is missing from the queue (should not happen within one
        // node); the store has it, so read from there and then carry on.
        void this.catchUpAfterDrain();
        return;
      }
    }
    if (this.answers.length > 0 || this.pendingPresence.size > 0 || queue.hasPending(reader)) this.schedule();
    else this.parts.onIdle();
  }

  /** Up to a frame's worth of answers, oldest first. */
  private takeAnswers(): Answer[] {
    if (this.answers.length === 0) return [];
    if (this.answers.length <= MAX_DELIVERIES_PER_FRAME) {
      const all = this.answers;
      this.answers = [];
      return all;
    }
    return this.answers.splice(0, MAX_DELIVERIES_PER_FRAME);
  }

  /** Moves waiting presence changes into the frame being built. */
  private takePresence(batch: OutboundBatch): void {
    if (this.pendingPresence.size === 0) return;
    batch.presence.push(...this.pendingPresence.values());
    this.pendingPresence.clear();
  }

  private async catchUpAfterDrain(): Promise<void> {
    this.phase = 'catching-up';
    if (this.drained) await this.drained;
    if (this.phase === 'catching-up') await this.catchUp();
  }
}
