import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FileDirection, LoginOutcomeLabel, ServerMetrics, StreamCutOffReason } from './metrics';

/** What the gauges read at each scrape; the server wires them to its registry, limiter and bus. */
export interface GaugeSources {
  /** Users with at least one stream on this node. */
  onlineUsers(): number;
  openStreams(): number;
  /** Client connections the gRPC server holds. */
  openConnections(): Promise<number>;
  /** The depth of each online user's outbound queue, in deliveries. */
  queueDepths(): Iterable<number>;
  /** True while the bus to the other nodes is connected; absent for a single node. */
  busConnected?(): boolean;
}

// Seconds: sub-millisecond commits on SQLite up to the multi-second stalls worth an alert.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const QUEUE_DEPTH_BUCKETS = [0, 1, 4, 16, 64, 256, 1024, 4096, 16384];

/**
 * The server's metrics as Prometheus series, with Node's process metrics,
 * in a registry of its own (several servers may run in one process, as in
 * the tests). `metrics` takes the calls from the chat code; `text` renders
 * what `/metrics` serves.
 */
export class PrometheusMetrics {
  readonly registry = new Registry();
  readonly metrics: ServerMetrics;

  constructor(sources: GaugeSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    const stored = new Counter({ name: 'tinychat_messages_stored_total', help: 'Messages written to the store', registers });
    const delivered = new Counter({
      name: 'tinychat_messages_delivered_total',
      help: "Inbox messages written to a receiver's stream (each stream counts)",
      registers,
    });
    const refused = new Counter({
      name: 'tinychat_messages_refused_total',
      help: 'Sends refused, by the error code they were refused with',
      labelNames: ['reason'] as const,
      registers,
    });
    const logins = new Counter({
      name: 'tinychat_logins_total',
      help: 'Logins by outcome: ok, failed (wrong password, unknown or disabled account), locked_out, error',
      labelNames: ['outcome'] as const,
      registers,
    });
    const opened = new Counter({ name: 'tinychat_streams_opened_total', help: 'Converse streams opened', registers });
    const cutOff = new Counter({
      name: 'tinychat_streams_cut_off_total',
      help: 'Streams the server ended with an error, by reason (lagging: fell more than --queue-limit behind)',
      labelNames: ['reason'] as const,
      registers,
    });
    const storeErrors = new Counter({
      name: 'tinychat_store_errors_total',
      help: 'Store calls that failed for want of a working database, by store operation',
      labelNames: ['operation'] as const,
      registers,
    });
    const expired = new Counter({
      name: 'tinychat_messages_expired_total',
      help: 'Messages deleted by --retention-days',
      registers,
    });
    const receipt = new Histogram({
      name: 'tinychat_receipt_latency_seconds',
      help: 'From the arrival of a send to the write of its receipt',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const commit = new Histogram({
      name: 'tinychat_store_commit_seconds',
      help: 'Time of one store transaction appending a batch of messages',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const batch = new Histogram({
      name: 'tinychat_store_batch_size',
      help: 'Messages appended per store transaction',
      buckets: BATCH_BUCKETS,
      registers,
    });
    const lag = new Histogram({
      name: 'tinychat_delivery_lag_seconds',
      help: "From the server accepting a message to its write to the receiver's stream, for live deliveries",
      buckets: [...LATENCY_BUCKETS, 10, 30],
      registers,
    });

    const fileTransfers = new Gauge({
      name: 'tinychat_file_transfers',
      help: 'File uploads and downloads in progress, by direction',
      labelNames: ['direction'] as const,
      registers,
    });
    const fileInFlight = new Gauge({
      name: 'tinychat_file_bytes_in_flight',
      help: 'File bytes held in server memory: upload bytes received and not yet stored; download bytes handed to a stream and not yet passed on to the connection',
      labelNames: ['direction'] as const,
      registers,
    });
    const fileBytes = new Counter({
      name: 'tinychat_file_bytes_total',
      help: 'File bytes stored by uploads, or passed on to the connection by downloads',
      labelNames: ['direction'] as const,
      registers,
    });
    // Both directions show from the start, at 0, so a query never finds them missing.
    for (const direction of ['upload', 'download'] satisfies FileDirection[]) {
      fileTransfers.set({ direction }, 0);
      fileInFlight.set({ direction }, 0);
      fileBytes.inc({ direction }, 0);
    }

    new Gauge({
      name: 'tinychat_online_users',
      help: 'Users with at least one stream on this node',
      registers,
      collect() {
        this.set(sources.onlineUsers());
      },
    });
    new Gauge({
      name: 'tinychat_open_streams',
      help: 'Converse streams open on this node',
      registers,
      collect() {
        this.set(sources.openStreams());
      },
    });
    new Gauge({
      name: 'tinychat_open_connections',
      help: 'Client connections held by this node',
      registers,
      async collect() {
        this.set(await sources.openConnections());
      },
    });
    new Gauge({
      name: 'tinychat_outbound_queue_depth_max',
      help: 'The deepest outbound queue of an online user, in deliveries',
      registers,
      collect() {
        let max = 0;
        for (const depth of sources.queueDepths()) max = Math.max(max, depth);
        this.set(max);
      },
    });
    // One series per bucket rather than one per user: how many online users'
    // queues are this deep, as of the scrape (not accumulated over time).
    new Histogram({
      name: 'tinychat_outbound_queue_depth',
      help: 'Outbound queue depths of online users at the time of the scrape, in deliveries',
      buckets: QUEUE_DEPTH_BUCKETS,
      registers,
      collect() {
        this.reset();
        for (const depth of sources.queueDepths()) this.observe(depth);
      },
    });
    if (sources.busConnected) {
      const connected = sources.busConnected;
      new Gauge({
        name: 'tinychat_bus_connected',
        help: '1 while the bus to the other nodes is connected, else 0',
        registers,
        collect() {
          this.set(connected() ? 1 : 0);
        },
      });
    }

    this.metrics = {
      messagesStored: (count) => stored.inc(count),
      messageDelivered: (lagMs) => {
        delivered.inc();
        if (lagMs !== undefined) lag.observe(Math.max(0, lagMs) / 1000);
      },
      messageRefused: (reason) => refused.inc({ reason: labelValue(reason) }),
      login: (outcome: LoginOutcomeLabel) => logins.inc({ outcome }),
      streamOpened: () => opened.inc(),
      streamCutOff: (reason: StreamCutOffReason) => cutOff.inc({ reason }),
      receiptWritten: (seconds) => receipt.observe(seconds),
      storeCommit: (seconds, size) => {
        commit.observe(seconds);
        batch.observe(size);
      },
      storeError: (operation) => storeErrors.inc({ operation }),
      messagesExpired: (count) => expired.inc(count),
      fileTransferStarted: (direction) => fileTransfers.inc({ direction }),
      fileTransferEnded: (direction) => fileTransfers.dec({ direction }),
      fileBytesInFlight: (direction, delta) => fileInFlight.inc({ direction }, delta),
      fileBytesMoved: (direction, bytes) => fileBytes.inc({ direction }, bytes),
    };
  }

  /** The exposition text `/metrics` serves. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** "resource-exhausted" → "resource_exhausted", the usual spelling of label values. */
function labelValue(code: string): string {
  return code.replace(/-/g, '_');
}
