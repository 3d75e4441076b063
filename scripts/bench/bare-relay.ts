import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  ChatService,
  type ChatServer,
  type ClientFrame,
  type CommandResponse,
  type Message,
  type Receipt,
  type ServerFrame,
} from '../../src/gen/tinychat/v1/chat';

/**
 * The benchmark's baseline: the strongest simple gRPC chat relay, on the
 * same tinychat.v1 contract, so one load generator drives both it and
 * TinyChat and any advantage TinyChat shows comes from its design rather
 * than from a weak opponent.
 *
 * What it leaves out: storage, authentication (/LOGIN returns the name as
 * the token), queue limits, acks and resumes (read and ignored); a message
 * for a user who is not connected is dropped. What it does as well as it
 * can: everything waiting for a stream (messages and receipts) goes out as
 * one ServerFrame per write, gathered until the current turn of the event
 * loop has read all it can; when `write()` returns false nothing more is
 * written to that stream until it emits 'drain', and what arrives meanwhile
 * joins the next frame.
 *
 * `--drop-every N` makes it lose every Nth message (still receipted), so
 * that a test can show the benchmark's delivery check notices.
 *
 * Run: node dist/scripts/bench/bare-relay.js [--host 127.0.0.1] [--port 0] [--drop-every N]
 * It logs "listening address=HOST:PORT" on stderr and stops on SIGTERM.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

type Call = grpc.ServerDuplexStream<ClientFrame, ServerFrame>;

/** What waits to be written to one stream, and whether a write may go out now. */
class Outbox {
  private messages: Message[] = [];
  private receipts: Receipt[] = [];
  private scheduled = false;
  private blocked = false;

  constructor(private readonly call: Call) {}

  message(message: Message): void {
    this.messages.push(message);
    this.schedule();
  }

  receipt(receipt: Receipt): void {
    this.receipts.push(receipt);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.blocked) return;
    this.scheduled = true;
    // After the poll phase: every frame read in this turn joins the same write.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.blocked || (this.messages.length === 0 && this.receipts.length === 0)) return;
    const frame: ServerFrame = { messages: this.messages, receipts: this.receipts, presence: [], errors: [] };
    this.messages = [];
    this.receipts = [];
    if (this.call.write(frame)) return;
    this.blocked = true;
    this.call.once('drain', () => {
      this.blocked = false;
      this.flush();
    });
  }
}

function relay(dropEvery: number): ChatServer {
  const outboxes = new Map<string, { call: Call; outbox: Outbox }>();
  const sequences = new Map<string, number>();
  let nextId = 0;

  const command: ChatServer['command'] = (call, callback) => {
    const input = call.request.input;
    const line = input?.$case === 'line' ? input.line : '';
    const [name, user] = line.trim().split(/\s+/);
    if (name?.toUpperCase() !== '/LOGIN' || !user) {
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'the bare relay only knows /LOGIN <name>' });
      return;
    }
    const response: CommandResponse = {
      text: `welcome, ${user}`,
      result: { $case: 'login', login: { user, token: user, registered: true, expires: new Date(Date.now() + DAY_MS) } },
    };
    callback(null, response);
  };

  const converse: ChatServer['converse'] = (call) => {
    const auth = call.metadata.get('authorization')[0];
    const user = typeof auth === 'string' ? auth.replace(/^Bearer\s+/i, '') : '';
    const own = { call, outbox: new Outbox(call) };
    outboxes.set(user, own);
    call.write({ messages: [], receipts: [], presence: [], errors: [], ready: { user, lastSequence: 0, ackedSequence: 0, maxBodyBytes: 4096, node: 'bare-relay' } });
    call.on('data', (frame: ClientFrame) => {
      if (frame.kind?.$case !== 'send') return;
      const { clientId, receiver, body } = frame.kind.send;
      const sequence = (sequences.get(receiver) ?? 0) + 1;
      sequences.set(receiver, sequence);
      const id = ++nextId;
      const time = new Date();
      if (dropEvery === 0 || id % dropEvery !== 0) outboxes.get(receiver)?.outbox.message({ sender: user, receiver, body, time, id, sequence, kind: 0, room: '', roomEvent: 0 });
      own.outbox.receipt({ clientId, id, sequence, time, receiver, duplicate: false });
    });
    const forget = () => {
      if (outboxes.get(user) === own) outboxes.delete(user);
    };
    call.on('end', () => {
      forget();
      call.end();
    });
    call.on('cancelled', forget);
    call.on('error', forget);
  };

  return { command, converse };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { host: { type: 'string' }, port: { type: 'string' }, 'drop-every': { type: 'string' } } });
  const host = values.host ?? '127.0.0.1';
  const dropEvery = Number(values['drop-every'] ?? '0');
  if (!Number.isInteger(dropEvery) || dropEvery < 0) throw new Error(`--drop-every takes a whole number, not "${values['drop-every']}"`);
  const server = new grpc.Server();
  server.addService(ChatService, relay(dropEvery));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${values.port ?? '0'}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  process.stderr.write(`listening address=${host}:${port}\n`);
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`bare-relay: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
