import * as grpc from '@grpc/grpc-js';
import { ChatClient, type ClientFrame, type ServerFrame } from '../../src/gen/tinychat/v1/chat';

/** Every benchmark user's password. */
const BENCH_PASSWORD = 'bench password';

/** Watching nobody's presence. */
export const NO_WATCH = { everyone: false, users: [] };

/** A Converse call as the load generator uses it. */
export type ConverseCall = grpc.ClientDuplexStream<ClientFrame, ServerFrame>;

/**
 * One simulated user: its own gRPC channel (its own TCP connection, as
 * separate people have), its login and one Converse stream.
 */
export class UserChannel {
  readonly client: ChatClient;
  call: ConverseCall | undefined;
  /** Set when the stream ended, with how. */
  ended: grpc.StatusObject | undefined;

  constructor(
    readonly name: string,
    target: string,
  ) {
    // A local subchannel pool keeps grpc-js from sharing one connection
    // between all clients of the same address in this process.
    this.client = new ChatClient(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  }

  /** Logs in and opens the stream; resolves once the server greeted it (after `resume` was written). */
  async open(watch: { everyone: boolean; users: string[] }, onFrame: (frame: ServerFrame) => void, timeoutMs: number): Promise<void> {
    const token = await this.login(timeoutMs);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const call = this.client.converse(metadata);
    this.call = call;
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => {
      this.ended = status;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no ready frame within ${timeoutMs} ms`)), timeoutMs);
      let ready = false;
      call.on('data', (frame: ServerFrame) => {
        if (!ready && frame.ready) {
          ready = true;
          clearTimeout(timer);
          call.write({ kind: { $case: 'resume', resume: { afterSequence: 0, watchPresence: watch.everyone, watchUsers: watch.users } } });
          resolve();
        }
        onFrame(frame);
      });
      call.on('status', (status: grpc.StatusObject) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`${this.name}: stream ended before ready: ${status.code} ${status.details}`));
      });
    });
  }

  write(frame: ClientFrame): void {
    this.call?.write(frame);
  }

  /** Half-closes, waits a little for the end, then cancels and releases the channel. */
  async close(waitMs = 2000): Promise<void> {
    const call = this.call;
    if (call && !this.ended) {
      call.end();
      const deadline = Date.now() + waitMs;
      while (!this.ended && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      if (!this.ended) call.cancel();
    }
    this.client.close();
  }

  /** Cancels at once and releases the channel. */
  drop(): void {
    this.call?.cancel();
    this.client.close();
  }

  private login(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) =>
      this.client.command(
        { loginOnly: false, input: { $case: 'line', line: `/LOGIN ${this.name} ${BENCH_PASSWORD}` } },
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, response) => {
          if (err) reject(new Error(`${this.name}: /LOGIN failed: ${err.message}`));
          else if (response?.result?.$case !== 'login') reject(new Error(`${this.name}: unexpected /LOGIN answer: ${response?.text}`));
          else resolve(response.result.login.token);
        },
      ),
    );
  }
}
