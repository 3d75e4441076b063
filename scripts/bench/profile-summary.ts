import { readFileSync } from 'node:fs';

/**
 * Reads a V8 CPU profile (node --cpu-prof) and says where the time went:
 * the functions with the most self time, and the time by category
 * (gRPC, HTTP/2, protobuf, SQLite, TinyChat's own code, GC, …).
 *
 * Run on its own: node dist/scripts/bench/profile-summary.js FILE.cpuprofile [TOP]
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Time in one function or category. */
export interface TimeShare {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time, 0..1. */
  share: number;
}

/** Where the CPU time of one profiled process went. */
export interface ProfileSummary {
  file: string;
  /** Wall time covered by the profile. */
  totalMs: number;
  /** Time not idle. */
  busyMs: number;
  categories: TimeShare[];
  functions: TimeShare[];
}

// Node's small helpers (Buffer, TextEncoder, argument checks) count towards
// whoever called them: Buffer work called by protobuf code is protobuf work.
const HELPER_URLS = /^node:(buffer|internal\/buffer|internal\/encoding|internal\/validators|internal\/util|internal\/per_context\/primordials|internal\/errors|util)$/;

// Checked in order; the first match names the category of a frame's URL.
const URL_CATEGORIES: Array<[test: (url: string) => boolean, category: string]> = [
  [(u) => u.includes('/node_modules/@grpc/'), 'grpc-js'],
  [(u) => u.startsWith('node:internal/http2') || u === 'node:http2', 'HTTP/2 (node core)'],
  [(u) => u.includes('/src/gen/') || u.includes('/node_modules/@bufbuild/') || u.includes('/node_modules/protobufjs/') || u.includes('/node_modules/long/'), 'protobuf encode/decode'],
  [(u) => u.includes('/node_modules/better-sqlite3/') || u.includes('/src/store/sqlite-store'), 'SQLite (better-sqlite3 + statements)'],
  [(u) => u.includes('/src/'), 'TinyChat code'],
  [(u) => u.includes('/scripts/bench/'), 'bare relay code'],
  [
    (u) =>
      u === 'node:net' ||
      u.startsWith('node:internal/stream_base') ||
      u.startsWith('node:internal/streams/') ||
      u === 'node:stream' ||
      u === 'node:events' ||
      u.startsWith('node:internal/timers') ||
      u === 'node:timers' ||
      u.startsWith('node:internal/process/') ||
      u.startsWith('node:internal/async_hooks') ||
      u === 'node:internal/fixed_queue',
    'node core: net, streams, events, timers',
  ],
  [(u) => u.startsWith('node:internal/modules/') || u.startsWith('node:internal/bootstrap/') || u === 'node:fs' || u === 'node:path', 'start-up (loading modules)'],
  [(u) => u.startsWith('node:'), 'node core: other'],
];

const SPECIAL = new Map<string, string>([
  ['(garbage collector)', 'GC'],
  ['(idle)', 'idle'],
  ['(program)', 'native outside JS (libuv, syscalls, V8)'],
  ['(root)', 'native outside JS (libuv, syscalls, V8)'],
]);

function shortUrl(url: string): string {
  const marks = ['/node_modules/', '/dist/'];
  for (const mark of marks) {
    const at = url.lastIndexOf(mark);
    if (at >= 0) return url.slice(at + 1);
  }
  return url;
}

/** Summarises the profile in `file`, keeping the `top` functions with the most self time. */
export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  // Sample i lasts until sample i + 1; the last one gets the average.
  const selfUs = new Map<number, number>();
  const { samples, timeDeltas } = profile;
  const average = samples.length > 0 ? (profile.endTime - profile.startTime) / samples.length : 0;
  for (let i = 0; i < samples.length; i++) {
    const duration = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : average;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, duration));
  }

  // A native frame (no URL: a C++ binding such as a SQLite statement or a
  // socket write) counts towards the nearest caller that has one. V8 shows
  // no frame for a better-sqlite3 statement's C++ code at all: its time is
  // the self time of the JavaScript function that ran the statement.
  const categoryOf = (id: number): string => {
    const frame = byId.get(id)!.callFrame;
    const special = SPECIAL.get(frame.functionName);
    if (special) return special;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      if (!url || HELPER_URLS.test(url)) continue;
      const found = URL_CATEGORIES.find(([test]) => test(url));
      return found ? found[1] : 'other';
    }
    return 'native outside JS (libuv, syscalls, V8)';
  };

  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    totalUs += us;
    const category = categoryOf(id);
    if (category === 'idle') {
      idleUs += us;
      continue;
    }
    categories.set(category, (categories.get(category) ?? 0) + us);
    const frame = byId.get(id)!.callFrame;
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : `native, in ${category}`;
    const name = `${frame.functionName || '(anonymous)'} ${where}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const shares = (map: Map<string, number>, limit: number): TimeShare[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }));
  return { file, totalMs: totalUs / 1000, busyMs: busyUs / 1000, categories: shares(categories, Infinity), functions: shares(functions, top) };
}

/** The summary as text for the terminal. */
export function formatProfileSummary(summary: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `CPU profile ${summary.file}`,
    `  busy ${summary.busyMs.toFixed(0)} ms of ${summary.totalMs.toFixed(0)} ms profiled`,
    '  by category (share of busy time):',
    ...summary.categories.map((c) => `    ${pct(c.share)}  ${c.ms.toFixed(0).padStart(7)} ms  ${c.name}`),
    '  top functions by self time:',
    ...summary.functions.map((f) => `    ${pct(f.share)}  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node dist/scripts/bench/profile-summary.js FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatProfileSummary(summarizeProfile(file, top ? Number(top) : 25))}\n`);
}
