import { performance } from 'node:perf_hooks';
import type { ServerFrame } from '../../src/gen/tinychat/v1/chat';
import type { PairSpec } from './load-protocol';
import { NO_WATCH, UserChannel } from './user-channel';

/** Problems reported per pair at most; the first ones say what went wrong. */
const MAX_ERRORS_PER_PAIR = 5;

/** How a pair's messages are sent and measured. */
export interface PairPlan {
  /** Messages this pair sends in all, warm-up included. */
  total: number;
  bytes: number;
  window: number;
  /** Only messages with at least this number count for latency (the ones before warm up). */
  measureFromIndex: number;
  /** Only messages sent at or after this performance.now() count for latency. */
  measureFrom: number;
}

/**
 * One sender and one receiver. The sender numbers its messages 0, 1, 2, …
 * at the start of the body; the receiver checks that they arrive each exactly
 * once, in order, with contiguous sequence numbers, and records each one's
 * latency against the time its send was written.
 */
export class PairDriver {
  readonly sender: UserChannel;
  readonly receiver: UserChannel;
  sent = 0;
  receipted = 0;
  delivered = 0;
  readonly errors: string[] = [];
  /** Called after each frame that carried receipts, refusals or messages. */
  onProgress: () => void = () => undefined;
  /** How many messages the current phase sends (warm-up, then all). */
  goal = 0;
  private readonly sendTimes: Float64Array;
  private readonly latencies: Float64Array;
  private measured = 0;
  private readonly receiptLatencies: Float64Array;
  private receiptsMeasured = 0;
  private readonly clientIdPrefix: string;
  private lastSequence = 0;
  private ackedSequence = 0;
  private failed = false;
  private readonly padding: string;

  constructor(
    private readonly spec: PairSpec,
    senderTarget: string,
    receiverTarget: string,
    private readonly plan: PairPlan,
  ) {
    this.sender = new UserChannel(spec.sender, senderTarget);
    this.receiver = new UserChannel(spec.receiver, receiverTarget);
    this.sendTimes = new Float64Array(plan.total);
    this.latencies = new Float64Array(plan.total);
    this.receiptLatencies = new Float64Array(plan.total);
    this.clientIdPrefix = `${spec.sender}-`;
    this.padding = 'x'.repeat(plan.bytes);
  }

  /** Logs both users in and opens both streams (watching nobody's presence). */
  async open(timeoutMs: number): Promise<void> {
    await Promise.all([
      this.receiver.open(NO_WATCH, (frame) => this.onReceiverFrame(frame), timeoutMs),
      this.sender.open(NO_WATCH, (frame) => this.onSenderFrame(frame), timeoutMs),
    ]);
  }

  /** True when every message of the phase was receipted and delivered, or the pair failed. */
  get finished(): boolean {
    return this.failed || (this.receipted >= this.goal && this.delivered >= this.goal);
  }

  /** Sends while the window allows, up to `due` messages in all (and never past the phase's goal). */
  sendUpTo(due: number): void {
    const limit = Math.min(due, this.goal);
    while (this.sent < limit && this.sent - this.receipted < this.plan.window && !this.failed) {
      const index = this.sent++;
      const prefix = `${index}:`;
      const body = prefix + this.padding.slice(prefix.length);
      this.sendTimes[index] = performance.now();
      this.sender.write({ kind: { $case: 'send', send: { clientId: this.clientIdPrefix + index, receiver: this.spec.receiver, body, kind: 0 } } });
    }
  }

  /** Latencies of the measured messages, in ms, from the `from`th one measured on. */
  latenciesMs(from = 0): Float64Array {
    return this.latencies.slice(from, this.measured);
  }

  /** How many latencies have been measured so far. */
  get measuredCount(): number {
    return this.measured;
  }

  /** Receipt latencies of the measured messages, in ms. */
  receiptLatenciesMs(): Float64Array {
    return this.receiptLatencies.slice(0, this.receiptsMeasured);
  }

  /** Acknowledges what was received, as a client does every so often. */
  ack(): void {
    if (this.lastSequence > this.ackedSequence) {
      this.ackedSequence = this.lastSequence;
      this.receiver.write({ kind: { $case: 'ack', ack: { sequence: this.lastSequence } } });
    }
  }

  /** Notes a stream that ended before the pair finished. */
  checkStreams(): void {
    for (const user of [this.sender, this.receiver]) {
      if (user.ended && !this.finished) this.fail(`${user.name}: stream ended early: ${user.ended.code} ${user.ended.details}`);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.sender.close(), this.receiver.close()]);
  }

  private onSenderFrame(frame: ServerFrame): void {
    this.receipted += frame.receipts.length;
    if (frame.receipts.length > 0) {
      const now = performance.now();
      for (const receipt of frame.receipts) {
        const index = Number(receipt.clientId.slice(this.clientIdPrefix.length));
        const sentAt = this.sendTimes[index];
        const measured = index >= this.plan.measureFromIndex && sentAt >= this.plan.measureFrom;
        if (measured && index < this.sent && this.receiptsMeasured < this.receiptLatencies.length) this.receiptLatencies[this.receiptsMeasured++] = now - sentAt;
      }
    }
    for (const error of frame.errors) {
      this.receipted++;
      this.fail(`${this.spec.sender}: send ${error.clientId} refused: ${error.code} ${error.message}`);
    }
    if (frame.receipts.length > 0 || frame.errors.length > 0) this.onProgress();
  }

  private onReceiverFrame(frame: ServerFrame): void {
    if (frame.messages.length === 0) return;
    const now = performance.now();
    for (const message of frame.messages) {
      const index = parseInt(message.body, 10);
      if (index !== this.delivered) {
        this.fail(`${this.spec.receiver}: expected message ${this.delivered}, got ${index} (sequence ${message.sequence})`);
      }
      if (message.sequence !== this.lastSequence + 1) {
        this.fail(`${this.spec.receiver}: expected sequence ${this.lastSequence + 1}, got ${message.sequence}`);
      }
      this.lastSequence = message.sequence;
      this.delivered++;
      const sentAt = this.sendTimes[index];
      const measured = index >= this.plan.measureFromIndex && sentAt >= this.plan.measureFrom;
      if (measured && index < this.sent && this.measured < this.latencies.length) this.latencies[this.measured++] = now - sentAt;
    }
    this.onProgress();
  }

  private fail(problem: string): void {
    this.failed = true;
    if (this.errors.length < MAX_ERRORS_PER_PAIR) this.errors.push(problem);
  }
}
