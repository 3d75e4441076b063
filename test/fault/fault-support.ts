import * as grpc from '@grpc/grpc-js';
import { ChatClient, type CommandResponse } from '../../src/gen/tinychat/v1/chat';
import { TEST_PASSWORD, WireStream } from '../support/grpc-client';

/**
 * How large the fault scenarios are. `npm test` runs them at 1 so each
 * stays a few seconds; `npm run soak:faults` sets TINYCHAT_FAULT_SCALE higher to
 * run the same scenarios longer and larger.
 */
export const FAULT_SCALE = Math.max(1, Number(process.env.TINYCHAT_FAULT_SCALE ?? '1') || 1);

/** `base` grown with the scale, at most `max`. */
export function scaled(base: number, max = Number.MAX_SAFE_INTEGER): number {
  return Math.min(max, Math.round(base * FAULT_SCALE));
}

/** A mocha timeout for a scenario that takes about `baseMs` at scale 1. */
export function scaledTimeout(baseMs: number): number {
  return baseMs * FAULT_SCALE;
}

/** Numbers 1..n. */
export function oneTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Counts streams open in a server's log: each `stream-open` line minus each `stream-close` line. */
export function openStreamsInLog(log: string): number {
  const opened = log.match(/ stream-open /g)?.length ?? 0;
  const closed = log.match(/ stream-close /g)?.length ?? 0;
  return opened - closed;
}

/**
 * A wire-level client on a TCP connection of its own, as separate people
 * have. (grpc-js otherwise lets every client of one address in a process
 * share one connection, and Node's HTTP/2 server closes a connection on
 * which more than about 1,000 streams were cancelled in a burst.)
 */
export class OwnConnectionClient {
  readonly client: ChatClient;

  constructor(
    target: string,
    public token?: string,
  ) {
    this.client = new ChatClient(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  }

  /** Runs a command line; rejects with the grpc ServiceError. */
  command(line: string): Promise<CommandResponse> {
    const metadata = this.metadata();
    return new Promise((resolve, reject) =>
      this.client.command({ loginOnly: false, input: { $case: 'line', line } }, metadata, (err, response) => (err ? reject(err) : resolve(response!))),
    );
  }

  /** Logs in and keeps the token for later calls. */
  async login(name: string): Promise<void> {
    this.token = undefined;
    const response = await this.command(`/LOGIN ${name} ${TEST_PASSWORD}`);
    if (response.result?.$case !== 'login') throw new Error(`unexpected /LOGIN answer: ${response.text}`);
    this.token = response.result.login.token;
  }

  /** Opens a Converse stream that records what it receives. */
  converse(): WireStream {
    return new WireStream(this.client.converse(this.metadata()));
  }

  close(): void {
    this.client.close();
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.token) metadata.set('authorization', `Bearer ${this.token}`);
    return metadata;
  }
}
