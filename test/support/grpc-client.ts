import * as grpc from '@grpc/grpc-js';
import { ChatClient, MessageKind, type ClientFrame, type CommandResponse, type ServerFrame } from '../../src/gen/tinychat/v1/chat';

/** The password every test user logs in with unless a test says otherwise. */
export const TEST_PASSWORD = 'correct horse battery staple';

/**
 * A bare gRPC client for tests that speak the wire protocol directly: no
 * reconnects, no dedupe, nothing hidden.
 */
export class WireClient {
  readonly client: ChatClient;
  token: string | undefined;

  constructor(target: string) {
    this.client = new ChatClient(target, grpc.credentials.createInsecure());
  }

  metadata(token = this.token): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  }

  /** Runs a command line; rejects with the grpc ServiceError. */
  command(line: string, token = this.token): Promise<CommandResponse> {
    return new Promise((resolve, reject) =>
      this.client.command({ loginOnly: false, input: { $case: 'line', line } }, this.metadata(token), (err, response) =>
        err ? reject(err) : resolve(response!),
      ),
    );
  }

  /** Logs in and keeps the token for later calls. */
  async login(name: string, password = TEST_PASSWORD): Promise<string> {
    const response = await this.command(`/LOGIN ${name} ${password}`, undefined);
    if (response.result?.$case !== 'login') throw new Error(`unexpected /LOGIN answer: ${response.text}`);
    this.token = response.result.login.token;
    return this.token;
  }

  /** Opens a Converse stream and collects what it receives. */
  converse(token = this.token): WireStream {
    return new WireStream(this.client.converse(this.metadata(token)));
  }

  close(): void {
    this.client.close();
  }
}

/** One Converse stream with everything it received, and waits on it. */
export class WireStream {
  readonly frames: ServerFrame[] = [];
  status: grpc.StatusObject | undefined;
  private waiters: Array<() => void> = [];

  constructor(readonly call: grpc.ClientDuplexStream<ClientFrame, ServerFrame>) {
    call.on('data', (frame: ServerFrame) => {
      this.frames.push(frame);
      this.notify();
    });
    call.on('status', (status: grpc.StatusObject) => {
      this.status = status;
      this.notify();
    });
    // Errors are also reported through 'status'; keep them from being thrown.
    call.on('error', () => undefined);
  }

  write(frame: ClientFrame): void {
    this.call.write(frame);
  }

  resume(afterSequence?: number, watchPresence = false, watchUsers: string[] = []): void {
    this.write({ kind: { $case: 'resume', resume: { afterSequence: afterSequence ?? 0, watchPresence, watchUsers } } });
  }

  /** Replaces whose presence this stream is told about. */
  watch(users: string[], everyone = false): void {
    this.write({ kind: { $case: 'watch', watch: { users, everyone } } });
  }

  /** Sends a message; `kind` is MessageKind (text when left out), or any number to test refusals. */
  send(receiver: string, body: string, clientId: string, kind: number = MessageKind.MESSAGE_KIND_UNSPECIFIED): void {
    this.write({ kind: { $case: 'send', send: { clientId, receiver, body, kind } } });
  }

  ack(sequence: number): void {
    this.write({ kind: { $case: 'ack', ack: { sequence } } });
  }

  get messages() {
    return this.frames.flatMap((frame) => frame.messages);
  }

  get receipts() {
    return this.frames.flatMap((frame) => frame.receipts);
  }

  get errors() {
    return this.frames.flatMap((frame) => frame.errors);
  }

  get presence() {
    return this.frames.flatMap((frame) => frame.presence);
  }

  /** Resolves when `predicate` holds, rejects after `timeoutMs` saying what was awaited. */
  until(what: string, predicate: (stream: WireStream) => boolean, timeoutMs = 5000): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; status=${JSON.stringify(this.status)}; frames=${this.frames.length}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate(this)) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  /** Waits for the stream's final status. */
  ended(timeoutMs = 5000): Promise<grpc.StatusObject> {
    return this.until('the stream to end', (s) => s.status !== undefined, timeoutMs).then(() => this.status!);
  }

  /** Half-closes and waits for the end. */
  async finish(timeoutMs = 5000): Promise<grpc.StatusObject> {
    this.call.end();
    return this.ended(timeoutMs);
  }

  cancel(): void {
    this.call.cancel();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/**
 * The clients and streams one test opens, so that teardown can end them all:
 * `user` logs a new client in, `open` starts a stream that resumes at once.
 */
export class WireClients {
  readonly clients: WireClient[] = [];
  readonly streams: WireStream[] = [];

  constructor(private readonly target: () => string) {}

  /** A new client, logged in as `name`. */
  async user(name: string, target = this.target()): Promise<WireClient> {
    const client = new WireClient(target);
    this.clients.push(client);
    await client.login(name);
    return client;
  }

  /** A stream of `client`, resumed after `afterSequence` (0: the acknowledged position). */
  open(client: WireClient, afterSequence?: number, watchPresence = false): WireStream {
    return this.track(client.converse(), (stream) => stream.resume(afterSequence, watchPresence));
  }

  /** Ends `stream` at teardown too. */
  track(stream: WireStream, start?: (stream: WireStream) => void): WireStream {
    this.streams.push(stream);
    start?.(stream);
    return stream;
  }

  /** Cancels every stream still open. */
  cancelStreams(): void {
    for (const stream of this.streams.splice(0)) if (!stream.status) stream.cancel();
  }

  /** Closes every client. */
  closeClients(): void {
    for (const client of this.clients.splice(0)) client.close();
  }
}
