import * as grpc from '@grpc/grpc-js';
import { Accounts, type LoginAttempt, type RegistrationPolicy } from '../chat/accounts';
import { AckRecorder } from '../chat/ack-recorder';
import { ChatError } from '../chat/errors';
import { DEFAULT_LOGIN_LIMITS, LoginThrottle, type LoginLimits } from '../chat/login-throttle';
import { ClusterLink, type ClusterTimings } from '../cluster/cluster-link';
import { MAX_BODY_BYTES, Messaging } from '../chat/messaging';
import { DEFAULT_ROOM_LIMITS, Rooms, type RoomLimitsConfig } from '../chat/rooms';
import { SessionEndFollower } from '../chat/session-end-follower';
import { DEFAULT_SEND_RATE, SendRateLimiter, type SendRateLimit } from '../chat/send-rate';
import { UserDirectory } from '../chat/user-directory';
import type { ChatServer } from '../gen/tinychat/v1/chat';
import { DEFAULT_QUEUE_LIMIT, OnlineRegistry } from '../queue/online-registry';
import { AppendBatcher } from '../store/append-batcher';
import { instrumentStore } from '../ops/instrumented-store';
import { noMetrics, type MetricsEndpoint, type ServerMetrics } from '../ops/metrics';
import { PrometheusMetrics } from '../ops/prometheus-metrics';
import { Retention, type RetentionTimings } from '../ops/retention';
import { commandHandler } from './command-handler';
import { connectionCounter } from './connection-count';
import { converseHandler } from './converse-handler';
import { createHealth } from './health';
import { Readiness } from './readiness';
import { lateWriteGuard } from './late-write-guard';
import { PeerLimiter } from './peer-limiter';
import { addReflection } from './reflection';
import { filesHandlers, filesServiceDefinition } from './files-handler';
import { DEFAULT_FILE_LIMITS, FileTransfers, type FileLimits } from '../files/file-transfers';
import type { BlobStore } from '../files/blob-store';
import { chatServiceDefinition } from './service-definition';
import type { Bus } from '../bus/bus';
import type { Logger } from '../log';
import type { Store } from '../store/store';

/** How long shutdown waits for streams to finish before cutting them. */
const SHUTDOWN_GRACE_MS = 5000;

/** Every limit the server enforces; each has a default and a flag (config.ts). */
export interface ServerLimits {
  /** Largest message body, in UTF-8 bytes. */
  maxBodyBytes: number;
  /** Largest gRPC request (one frame or command), in bytes. */
  maxReceiveBytes: number;
  /** Messages per second per user (token bucket); perSecond 0 turns it off. */
  sendRate: SendRateLimit;
  /** Failed logins allowed per name and per address per window. */
  login: LoginLimits;
  /** Converse streams one user may hold at once; 0 for no limit. */
  maxStreamsPerUser: number;
  /** Connections with calls in flight per client address; 0 for no limit. */
  maxConnectionsPerAddress: number;
  /** Members per room, rooms per user, room posts per second per user. */
  rooms: RoomLimitsConfig;
  /** The server pings every connection this often, and drops it if no answer comes within the timeout. */
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  /** A connection with no call (e.g. one that never logged in) is closed after this long. */
  idleTimeoutMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxBodyBytes: MAX_BODY_BYTES,
  maxReceiveBytes: 64 * 1024,
  sendRate: DEFAULT_SEND_RATE,
  login: DEFAULT_LOGIN_LIMITS,
  maxStreamsPerUser: 8,
  maxConnectionsPerAddress: 64,
  rooms: DEFAULT_ROOM_LIMITS,
  keepaliveMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  idleTimeoutMs: 120_000,
};

/** Certificate and key for TLS; with `clientCa`, clients must present a certificate it signed. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

/** What a server needs to run. */
export interface ServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  store: Store;
  logger: Logger;
  /** Bound of each user's outbound queue, in deliveries. */
  queueLimit?: number;
  limits?: Partial<ServerLimits>;
  registration?: RegistrationPolicy;
  sessionTtlMs?: number;
  /** scrypt cost (log2 N) for new password hashes. */
  passwordCost?: number;
  /** Serve TLS; without it the server speaks plaintext (and warns unless on loopback). */
  tls?: ServerTls;
  /** The bus to the other nodes sharing the store; none for a single node. */
  bus?: Bus;
  /** This node's name in logs, health and clients' status bars (default host:port). */
  nodeName?: string;
  /** Cluster timings (tests shorten them). */
  clusterTimings?: Partial<ClusterTimings>;
  /** Serve Prometheus metrics here (already listening); the server closes it at shutdown. */
  metrics?: MetricsEndpoint;
  /** Delete messages older than this many days; 0 or absent keeps them. */
  retentionDays?: number;
  /** Retention timings (tests shorten them). */
  retentionTimings?: Partial<RetentionTimings>;
  /** Where file contents live; without it the Files service is not offered and file messages are refused. The server closes it at shutdown. */
  blobs?: BlobStore;
  /** Limits on files (size, quota, uploads at once). */
  fileLimits?: Partial<FileLimits>;
}

/** A listening server. */
export interface RunningServer {
  host: string;
  port: number;
  /** host:port, ready for a client's --server. */
  target: string;
  /** This node's name. */
  nodeName: string;
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
  const { logger, bus } = options;
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  // The series are created now and their gauges read at scrape time, once
  // the registry and the gRPC server below exist.
  let gauges: { registry: OnlineRegistry; connections: () => Promise<number> } | undefined;
  const prometheus = options.metrics
    ? new PrometheusMetrics({
        onlineUsers: () => gauges?.registry.localUserIds().length ?? 0,
        openStreams: () => gauges?.registry.streamCount ?? 0,
        openConnections: () => gauges?.connections() ?? Promise.resolve(0),
        queueDepths: () => gauges?.registry.queueDepths() ?? [],
        busConnected: bus ? () => bus.state === 'connected' : undefined,
      })
    : undefined;
  const metrics: ServerMetrics = prometheus?.metrics ?? noMetrics;
  const store = prometheus ? instrumentStore(options.store, metrics) : options.store;
  // Named before listening, so the first stream already hears it; host:port unless told.
  let nodeName = options.nodeName ?? formatTarget(options.host, options.port);
  const registry = new OnlineRegistry(options.queueLimit ?? DEFAULT_QUEUE_LIMIT);
  const throttle = new LoginThrottle(limits.login);
  const accounts = new Accounts(store, {
    registration: options.registration,
    sessionTtlMs: options.sessionTtlMs,
    passwordCost: options.passwordCost,
    loginLimits: limits.login,
    throttle,
    onLogin: (attempt) => reportLogin(attempt, logger, metrics),
  });
  const batcher = new AppendBatcher(store);
  const users = new UserDirectory(store);
  const transfers = options.blobs ? new FileTransfers(options.blobs, store, { ...DEFAULT_FILE_LIMITS, ...options.fileLimits }) : undefined;
  const messaging = new Messaging(store, batcher, users, new SendRateLimiter(limits.sendRate), limits.maxBodyBytes, Date.now, transfers);
  const rooms = new Rooms(store, users, registry, registry, limits.rooms, limits.maxBodyBytes);
  const acks = new AckRecorder(store, logger);
  const peers = new PeerLimiter(limits.maxConnectionsPerAddress);
  const follower = new SessionEndFollower(store, registry, logger);
  await follower.start();
  const health = createHealth();
  const readiness = new Readiness(store, bus, health, logger, () => nodeName);
  let link: ClusterLink | undefined;
  let shuttingDown = false;
  const sessionEnds = {
    poll: () => {
      link?.sessionEnded();
      return follower.poll();
    },
  };

  const server = new grpc.Server({
    'grpc.max_receive_message_length': limits.maxReceiveBytes,
    'grpc.keepalive_time_ms': limits.keepaliveMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.max_connection_idle_ms': limits.idleTimeoutMs,
    interceptors: [lateWriteGuard],
  });
  const chat: ChatServer = {
    command: commandHandler({ store, accounts, messaging, rooms, online: registry, sessionEnds, clock: Date.now }, peers, logger, readiness),
    converse: converseHandler(
      accounts,
      {
        store,
        messaging,
        rooms,
        registry,
        acks,
        logger,
        metrics,
        get nodeName() {
          return nodeName;
        },
      },
      {
        peers,
        maxStreamsPerUser: limits.maxStreamsPerUser,
        isShuttingDown: () => shuttingDown,
        readiness,
      },
    ),
  };
  server.addService(chatServiceDefinition, chat);
  if (transfers) server.addService(filesServiceDefinition, filesHandlers({ accounts, transfers, peers, readiness, logger, metrics }));
  health.register(server);
  addReflection(server);

  const address = formatTarget(options.host, options.port);
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(
        options.tls.clientCa ?? null,
        [{ cert_chain: options.tls.cert, private_key: options.tls.key }],
        options.tls.clientCa !== undefined,
      )
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, credentials, (err, boundPort) =>
      err ? reject(bindError(address, err)) : resolve(boundPort),
    ),
  ).catch(async (err: unknown) => {
    await follower.stop();
    throw err;
  });
  gauges = { registry, connections: connectionCounter(server) };
  if (prometheus) options.metrics!.serve(prometheus);
  const retention = options.retentionDays ? new Retention(store, options.retentionDays, logger, metrics, options.retentionTimings) : undefined;
  retention?.start();
  const target = formatTarget(options.host, port);
  if (options.nodeName === undefined) nodeName = target;
  readiness.start();
  if (bus) {
    link = new ClusterLink({
      bus,
      store,
      registry,
      logger,
      nodeName,
      throttle,
      pollSessionEnds: () => follower.poll(),
      timings: options.clusterTimings,
    });
    link.start();
  }
  logger.info('listening', {
    address: target,
    node: nodeName,
    bus: bus?.description ?? 'none (a single node)',
    tls: options.tls ? (options.tls.clientCa ? 'mutual' : 'on') : 'off',
    metrics: options.metrics ? `http://${options.metrics.address}/metrics` : 'off',
    retention: options.retentionDays ? `${options.retentionDays} days` : 'off',
  });
  if (!options.tls && !isLoopback(options.host)) {
    logger.warn('plaintext-on-network', {
      address: target,
      hint: 'anyone on the network can read messages and tokens; pass --tls-cert and --tls-key',
    });
  }

  let stopped: Promise<void> | undefined;
  const shutdown = () =>
    (stopped ??= (async () => {
      shuttingDown = true;
      logger.info('shutting-down', { streams: registry.streamCount });
      readiness.stop();
      await follower.stop();
      await retention?.stop();
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
      await link?.stop();
      await bus?.close();
      await options.blobs?.close();
      await store.close();
      await options.metrics?.close();
      logger.info('stopped');
    })());

  return { host: options.host, port, target, nodeName, streamCount: () => registry.streamCount, shutdown };
}

/** Logs failed logins and lockouts (name and address, never the password) and counts every login. */
function reportLogin(attempt: LoginAttempt, logger: Logger, metrics: ServerMetrics): void {
  metrics.login(attempt.outcome);
  if (attempt.outcome === 'ok') return;
  // The name as typed, cut short: it may be anything a client sent.
  const fields = { user: attempt.name.slice(0, 64), address: attempt.address ?? 'unknown', reason: attempt.error?.message };
  if (attempt.outcome === 'locked_out') logger.warn('login-locked-out', { ...fields, retry_after_s: Math.ceil((attempt.error?.retryAfterMs ?? 0) / 1000) });
  else if (attempt.outcome === 'failed') logger.warn('login-failed', fields);
  else logger.error('login-error', fields);
}

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/** "127.0.0.1:50051", "[::1]:50051". */
export function formatTarget(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The one sentence for a port another process holds; `flag` is the option that picks another. */
export function portInUseMessage(address: string, flag: string): string {
  return `cannot listen on ${address}: the port is in use — stop the other server or pick another with ${flag}`;
}

function bindError(address: string, err: Error): Error {
  const inUse = /EADDRINUSE|address already in use/i.test(err.message);
  return new Error(inUse ? portInUseMessage(address, '--port') : `cannot listen on ${address}: ${err.message} — check --host and --port`);
}
