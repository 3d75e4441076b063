import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { cpuSeconds, memory, openFds } from './proc-stats';

/** The two programs the benchmark starts: TinyChat's server and the baseline relay. */
export type ServerKind = 'tinychat' | 'bare';

/**
 * TinyChat runs with its defaults except the per-user and per-address abuse
 * limits, which would throttle a load generator that is one machine sending
 * for thousands of users, and the password hash cost, set to its minimum so
 * that registering 10,000 users measures the chat server rather than scrypt.
 */
const BENCH_SERVER_FLAGS = [
  '--log-format', 'text',
  '--send-rate', '0',
  '--max-streams-per-user', '0',
  '--max-connections-per-address', '0',
  '--login-attempts', '0',
  '--login-attempts-per-address', '0',
  '--password-cost', '10',
];

const ROOT = join(__dirname, '..', '..');
const TINYCHAT_CLI = join(ROOT, 'src', 'main.js');
const BARE_RELAY = join(__dirname, 'bare-relay.js');
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 15_000;
// Only the end of the log is kept, for error reports: a long run logs a line per stream.
const LOG_TAIL_CHARS = 8192;

/** A server under test, running as its own process on 127.0.0.1. */
export interface ServerChild {
  name: ServerKind;
  pid: number;
  target: string;
  /** TinyChat's Prometheus endpoint, when started with `metrics`. */
  metricsUrl?: string;
  cpuSeconds(): number;
  memory(): { rss: number; peakRss: number };
  openFds(): number;
  logTail(): string;
  /** SIGTERM (a graceful stop, which also writes a --cpu-prof profile), SIGKILL after a timeout. */
  stop(): Promise<void>;
}

/** Options for one server child. */
export interface ServerChildOptions {
  /** Write a V8 CPU profile to this file when the server exits. */
  cpuProfilePath?: string;
  /** A command the server is started under, e.g. taskset to pin it to a core. */
  prefix?: string[];
  /** TinyChat's --db (a fresh SQLite file in a temporary directory when absent; ':memory:' keeps nothing). */
  db?: string;
  /** TinyChat's --bus. */
  bus?: string;
  /** TinyChat's --node-name. */
  nodeName?: string;
  /** The bare relay's --drop-every (see bare-relay.ts). */
  dropEvery?: number;
  /** TinyChat serves its Prometheus metrics on a port of its own (for the V8 heap figures); the relay has none. */
  metrics?: boolean;
}

/**
 * Starts TinyChat exactly as a user runs it (`tinychat serve` on a fresh
 * SQLite file in a temporary directory) or the bare relay, on port 0, and
 * resolves once it logs the address it listens on.
 */
export async function startServerChild(name: ServerKind, options: ServerChildOptions = {}): Promise<ServerChild> {
  const dataDir = mkdtempSync(join(tmpdir(), `tinychat-bench-${name}-`));
  const profile = options.cpuProfilePath;
  const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${dirname(profile)}`, `--cpu-prof-name=${basename(profile)}`] : [];
  const cluster = [
    ...(options.bus ? ['--bus', options.bus] : []),
    ...(options.nodeName ? ['--node-name', options.nodeName] : []),
    ...(options.metrics && name === 'tinychat' ? ['--metrics-address', '127.0.0.1:0'] : []),
    // A database in memory has no folder beside it for files: use this run's, removed with it.
    ...(options.db === ':memory:' ? ['--files-dir', join(dataDir, 'files')] : []),
  ];
  const args =
    name === 'tinychat'
      ? [TINYCHAT_CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--db', options.db ?? join(dataDir, 'chat.db'), ...cluster, ...BENCH_SERVER_FLAGS]
      : [BARE_RELAY, '--host', '127.0.0.1', '--port', '0', ...(options.dropEvery ? ['--drop-every', String(options.dropEvery)] : [])];
  // taskset execs node in place, so the child's pid is the server's.
  const [command, ...prefixArgs] = [...(options.prefix ?? []), process.execPath];
  const child = spawn(command, [...prefixArgs, ...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const cleanup = () => rmSync(dataDir, { recursive: true, force: true });

  let metricsUrl: string | undefined;
  const target = await new Promise<string>((resolve, reject) => {
    let found = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms; log:\n${log}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-LOG_TAIL_CHARS);
      if (found) return;
      const match = /listening address=(\S+):(\d+)/.exec(log);
      if (!match) return;
      found = true;
      clearTimeout(timer);
      metricsUrl = /listening .*metrics=(http:\/\/\S+)/.exec(log)?.[1];
      resolve(`127.0.0.1:${match[2]}`);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!found) reject(new Error(`${name} exited early (${signal ?? code}); log:\n${log}`));
    });
  }).catch((err: unknown) => {
    cleanup();
    throw err;
  });

  const pid = child.pid!;
  return {
    name,
    pid,
    target,
    metricsUrl,
    cpuSeconds: () => cpuSeconds(pid),
    memory: () => memory(pid),
    openFds: () => openFds(pid),
    logTail: () => log,
    stop: async () => {
      await stopChild(child, exited);
      cleanup();
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}
