/**
 * The messages between the benchmark's main process and its load workers
 * (child processes, so the load generator can use every core). Sent over
 * Node's IPC channel with 'advanced' serialization, which carries typed
 * arrays as they are.
 */

/** One sender→receiver pair. Both ends live in the same worker, so latency uses one clock. */
export interface PairSpec {
  sender: string;
  receiver: string;
}

/** Sends at a fixed rate instead of as fast as the window allows. */
export interface FixedRate {
  /** Messages per second per pair. */
  perPairPerSecond: number;
  /** Sent and delivered but not measured, so both sides are warm. */
  warmupMs: number;
  /** The measured part. */
  durationMs: number;
}

/** Drive pairs: each sender sends `messages` messages of `bytes` bytes to its receiver. */
export interface PairsJob {
  kind: 'pairs';
  /** Where senders connect. */
  target: string;
  /** Where receivers connect (another node of the same cluster, or the same server). */
  receiverTarget: string;
  pairs: PairSpec[];
  /** Per pair; ignored at a fixed rate, where rate × time decides. */
  messages: number;
  /** Per pair, sent and delivered before 'ready' and not measured (not at a fixed rate). */
  warmupMessages: number;
  bytes: number;
  /** Most sends a sender may have without a receipt. */
  window: number;
  rate?: FixedRate;
  /** Give up on the run after this long. */
  timeoutMs: number;
}

/** Log in `users` and hold one Converse stream each, on one gRPC channel (one TCP connection) each. */
export interface IdleJob {
  kind: 'idle';
  target: string;
  users: string[];
  /** Logins and stream openings in flight at once. */
  concurrency: number;
  /** Ask for every user's presence changes (the expensive mode). */
  watchPresence: boolean;
  /** For each user (same order as `users`), the names whose presence it watches, as a client showing them does. */
  watchUsers?: string[][];
  timeoutMs: number;
}

/** What a worker is asked to do. */
export type Job = PairsJob | IdleJob;

/** Main → worker. 'sample' may be sent while a pairs job runs, to follow a long run interval by interval. */
export type ToWorker = { type: 'setup'; job: Job } | { type: 'go' } | { type: 'sample' } | { type: 'close' } | { type: 'exit' };

/** What one worker measured for a pairs job. */
export interface PairsResult {
  sent: number;
  receipted: number;
  delivered: number;
  /** End-to-end latency of each measured message (send written → delivery read), in ms. */
  latenciesMs: Float64Array;
  /** Time from each measured send being written to its receipt being read, in ms. */
  receiptLatenciesMs: Float64Array;
  /** Problems found: lost, repeated or reordered messages, refused sends, streams that ended. */
  errors: string[];
  timedOut: boolean;
  /** This worker's own CPU time during the run, in seconds. */
  cpuSeconds: number;
}

/** What a running pairs job delivered since the previous sample (or since 'go'). */
export interface PairsSample {
  delivered: number;
  /** End-to-end latency of each message delivered in that time, in ms. */
  latenciesMs: Float64Array;
  /** Every problem found so far in the run (not only since the previous sample). */
  errors: string[];
}

/** What one worker measured for an idle job. */
export interface IdleResult {
  connected: number;
  errors: string[];
  cpuSeconds: number;
}

/** Worker → main. */
export type FromWorker =
  | { type: 'ready'; idle?: IdleResult }
  | { type: 'done'; pairs: PairsResult }
  | { type: 'sample'; sample: PairsSample }
  | { type: 'closed'; errors: string[] }
  | { type: 'failed'; error: string };
