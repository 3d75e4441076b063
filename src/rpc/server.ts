import * as grpc from '@grpc/grpc-js';
import { Accounts } from '../chat/accounts';
import { AckRecorder } from '../chat/ack-recorder';
import { ChatError } from '../chat/errors';
import { Messaging } from '../chat/messaging';
import { UserDirectory } from '../chat/user-directory';
import { ChatService, type ChatServer } from '../gen/tinychat/v1/chat';
import { DEFAULT_QUEUE_LIMIT, OnlineRegistry } from '../queue/online-registry';
import { AppendBatcher } from '../store/append-batcher';
import { commandHandler } from './command-handler';
import { converseHandler } from './converse-handler';
import { createHealth } from './health';
import { addReflection } from './reflection';
import type { Logger } from '../log';
import type { Store } from '../store/store';

/** Largest request a client may send, in bytes (a frame holds one message of at most 4 KiB). */
export const MAX_RECEIVE_BYTES = 256 * 1024;
/** How long shutdown waits for streams to finish before cutting them. */
const SHUTDOWN_GRACE_MS = 5000;

/** What a server needs to run. */
export interface ServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  store: Store;
  logger: Logger;
  /** Bound of each user's outbound queue, in deliveries. */
  queueLimit?: number;
}

/** A listening server. */
export interface RunningServer {
  host: string;
  port: number;
  /** host:port, ready for a client's --server. */
  target: string;
  /** Open Converse streams (for tests and metrics). */
  streamCount(): number;
  /**
   * Graceful shutdown: health turns NOT_SERVING, new streams are refused,
   * open streams end with UNAVAILABLE so clients reconnect elsewhere or
   * later, pending writes are flushed and the store is closed.
   */
  shutdown(): Promise<void>;
}

/** Builds the service graph on `store` and listens on host:port. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { store, logger } = options;
  const registry = new OnlineRegistry(options.queueLimit ?? DEFAULT_QUEUE_LIMIT);
  const accounts = new Accounts(store);
  const batcher = new AppendBatcher(store);
  const messaging = new Messaging(store, batcher, new UserDirectory(store));
  const acks = new AckRecorder(store, logger);
  const health = createHealth();
  let shuttingDown = false;

  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES });
  const chat: ChatServer = {
    command: commandHandler({ store, accounts, messaging, online: registry, clock: Date.now }, logger),
    converse: converseHandler(accounts, { store, messaging, registry, acks, logger }, () => shuttingDown),
  };
  server.addService(ChatService, chat);
  health.register(server);
  addReflection(server);

  const address = formatTarget(options.host, options.port);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, boundPort) =>
      err ? reject(bindError(address, err)) : resolve(boundPort),
    ),
  );
  const target = formatTarget(options.host, port);
  logger.info('listening', { address: target });

  let stopped: Promise<void> | undefined;
  const shutdown = () =>
    (stopped ??= (async () => {
      shuttingDown = true;
      logger.info('shutting-down', { streams: registry.streamCount });
      health.shutdown();
      registry.closeAll(new ChatError('unavailable', 'the server is shutting down — your client will reconnect'));
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await batcher.flush();
      await acks.flush();
      await store.close();
      logger.info('stopped');
    })());

  return { host: options.host, port, target, streamCount: () => registry.streamCount, shutdown };
}

/** "127.0.0.1:50051", "[::1]:50051". */
export function formatTarget(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function bindError(address: string, err: Error): Error {
  const inUse = /EADDRINUSE|address already in use/i.test(err.message);
  return new Error(
    inUse
      ? `cannot listen on ${address}: the port is in use — stop the other server or pick another with --port`
      : `cannot listen on ${address}: ${err.message} — check --host and --port`,
  );
}
