import type { FileDirection, ServerMetrics } from './metrics';

/**
 * One file transfer as the metrics see it: counted as in progress from its
 * creation until `end()`, and the bytes it holds in memory. `end()` may be
 * called any number of times; the first lets go of whatever the transfer
 * still held, so the gauges return to where they were even when a write's
 * completion never comes (a client that went away). Calls after `end()` do
 * nothing.
 */
export class FileTransferMeter {
  private held = 0;
  private ended = false;

  constructor(
    private readonly metrics: ServerMetrics,
    private readonly direction: FileDirection,
  ) {
    metrics.fileTransferStarted(direction);
  }

  /** `bytes` more are held in server memory. */
  hold(bytes: number): void {
    if (this.ended || bytes === 0) return;
    this.held += bytes;
    this.metrics.fileBytesInFlight(this.direction, bytes);
  }

  /** `bytes` held before are let go of; `moved` when they were stored or sent on (else dropped). */
  release(bytes: number, moved: boolean): void {
    if (this.ended) return;
    const released = Math.min(bytes, this.held);
    this.held -= released;
    if (released > 0) this.metrics.fileBytesInFlight(this.direction, -released);
    if (moved && bytes > 0) this.metrics.fileBytesMoved(this.direction, bytes);
  }

  /** The transfer is over: no longer in progress, and nothing of it held. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.held > 0) this.metrics.fileBytesInFlight(this.direction, -this.held);
    this.held = 0;
    this.metrics.fileTransferEnded(this.direction);
  }
}
