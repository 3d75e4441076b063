import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  ChatService,
  type ChatServer,
  type ClientFrame,
  type CommandResponse,
  type ServerFrame,
} from '../../src/gen/tinychat/v1/chat';

/**
 * The benchmark's baseline: the least a gRPC chat relay can do, written
 * plainly with grpc-js and the same tinychat.v1 contract, so one load
 * generator drives both servers.
 *
 * /LOGIN returns the name itself as the token; Converse keeps one stream per
 * user (the newest) and forwards each send, one frame per message, to the
 * receiver's stream with a per-receiver sequence number, and answers the
 * sender with a receipt, one frame each. No storage, no authentication, no
 * queue, no backpressure: a message for a user who is not connected is
 * dropped. Acks and resumes are read and ignored.
 *
 * Run: node dist/scripts/bench/bare-relay.js [--host 127.0.0.1] [--port 0]
 * It logs "listening address=HOST:PORT" on stderr and stops on SIGTERM.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

type Call = grpc.ServerDuplexStream<ClientFrame, ServerFrame>;

function relay(): ChatServer {
  const streams = new Map<string, Call>();
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
    streams.set(user, call);
    call.write({ messages: [], receipts: [], presence: [], errors: [], ready: { user, lastSequence: 0, ackedSequence: 0, maxBodyBytes: 4096, node: "bare-relay" } });
    call.on('data', (frame: ClientFrame) => {
      if (frame.kind?.$case !== 'send') return;
      const { clientId, receiver, body } = frame.kind.send;
      const sequence = (sequences.get(receiver) ?? 0) + 1;
      sequences.set(receiver, sequence);
      const id = ++nextId;
      const time = new Date();
      streams.get(receiver)?.write({
        messages: [{ sender: user, receiver, body, time, id, sequence, kind: 0, room: '', roomEvent: 0 }],
        receipts: [],
        presence: [],
        errors: [],
      });
      call.write({ messages: [], receipts: [{ clientId, id, sequence, time, receiver, duplicate: false }], presence: [], errors: [] });
    });
    const forget = () => {
      if (streams.get(user) === call) streams.delete(user);
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
  const { values } = parseArgs({ options: { host: { type: 'string' }, port: { type: 'string' } } });
  const host = values.host ?? '127.0.0.1';
  const server = new grpc.Server();
  server.addService(ChatService, relay());
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
