import { performance } from 'node:perf_hooks';
import { writeOrWaitForDrain } from '../streams/write-or-drain';
import { emptyBatch, type FrameSink, type OutboundBatch } from './frames';
import type { ServerMetrics } from '../ops/metrics';
import type { OutboundQueue, QueueReader } from '../queue/outbound-queue';
import type { AppendResult, StoredMessage } from '../store/store';

/** Deliveries packed into one frame at most. */
export const MAX_DELIVERIES_PER_FRAME = 256;
/** Frames written per pump turn before yielding to other streams. */
export const MAX_FRAMES_PER_TURN = 16;
/** Inbox messages read from the store per catch-up page. */
export const CATCH_UP_PAGE = 256;

/** What one stream's pump reads from and writes to. */
export interface OutboundPumpParts {
  /** The user's shared outbound queue, already attached to `reader`. */
  queue: OutboundQueue;
  /** The stream as the queue knows it: receipts and errors addressed to it are written, copies it sent are not. */
  reader: QueueReader;
  sink: FrameSink;
  metrics: ServerMetrics;
  /** The user's stored inbox after a sequence, oldest first, at most `limit` messages. */
  readInbox(afterSequence: number, limit: number): Promise<StoredMessage[]>;
  /** The pump is live with nothing written, waiting or scheduled: a half-closed stream may end now. */
  onIdle(): void;
  /** Reading the store failed: the stream should end; the pump has stopped writing. */
  onFailed(event: string, err: unknown): void;
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
 * Falling behind is the queue's business: past its limit the queue detaches
 * the reader and calls its `overflow`, and the stream is cut off with
 * RESOURCE_EXHAUSTED (see ConverseSession); the store still has everything.
 */
export class OutboundPump {
  private phase: PumpPhase = 'idle';
  /** Highest inbox sequence written on this stream. */
  private writtenUpTo = 0;
  private watching = false;
  /** Set while the sink's buffer is full; settles on its 'drain'. */
  private drained: Promise<void> | undefined;
  private scheduled = false;
  /**
   * When each send whose receipt is not written yet arrived (performance.now()),
   * for the receipt latency. Made by the first send: an idle stream has none.
   */
  private sendArrivals: Map<AppendResult, number> | undefined;

  constructor(private readonly parts: OutboundPumpParts) {}

  /** Highest inbox sequence written on this stream. */
  get delivered(): number {
    return this.writtenUpTo;
  }

  /** True when live and nothing is being written, waiting for drain, scheduled or queued. */
  get idle(): boolean {
    return this.phase === 'live' && !this.drained && !this.scheduled && !this.parts.queue.hasPending(this.parts.reader);
  }

  /** Writes the stored inbox after `afterSequence`, then goes live. Presence is written only when `watchPresence`. */
  async start(afterSequence: number, watchPresence: boolean): Promise<void> {
    if (this.phase !== 'idle') return;
    this.watching = watchPresence;
    this.writtenUpTo = afterSequence;
    await this.catchUp();
  }

  /** New deliveries are waiting in the queue. */
  wake(): void {
    if (this.phase === 'live') this.schedule();
  }

  /** Remembers when a send arrived, so its receipt's latency can be measured when written. */
  expectReceipt(result: AppendResult, arrived: number): void {
    if (this.phase !== 'stopped') (this.sendArrivals ??= new Map()).set(result, arrived);
  }

  /** Writes nothing more. */
  stop(): void {
    this.phase = 'stopped';
    this.sendArrivals = undefined;
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
      const deliveries = queue.read(reader, MAX_DELIVERIES_PER_FRAME);
      if (deliveries.length === 0) break;
      const batch = emptyBatch();
      const receiptArrivals: number[] = [];
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
          case 'receipt':
            if (delivery.target === reader) {
              batch.receipts.push(delivery.result);
              const arrived = this.sendArrivals?.get(delivery.result);
              if (arrived !== undefined) receiptArrivals.push(arrived);
              this.sendArrivals?.delete(delivery.result);
            }
            break;
          case 'error':
            if (delivery.target === reader) batch.errors.push({ error: delivery.error, clientId: delivery.clientId });
            break;
          case 'presence':
            if (this.watching) batch.presence.push(...delivery.changes);
            break;
        }
      }
      if (batch.messages.length + batch.receipts.length + batch.errors.length + batch.presence.length > 0) {
        const written = this.write(batch);
        if (receiptArrivals.length > 0) {
          const now = performance.now();
          for (const arrived of receiptArrivals) metrics.receiptWritten((now - arrived) / 1000);
        }
        if (!written && !gap) void this.drained!.then(() => this.schedule());
      }
      if (gap) {
        // A message is missing from the queue (should not happen within one
        // node); the store has it, so read from there and then carry on.
        void this.catchUpAfterDrain();
        return;
      }
    }
    if (queue.hasPending(reader)) this.schedule();
    else this.parts.onIdle();
  }

  private async catchUpAfterDrain(): Promise<void> {
    this.phase = 'catching-up';
    if (this.drained) await this.drained;
    if (this.phase === 'catching-up') await this.catchUp();
  }
}
