import { readdirSync, readFileSync } from 'node:fs';

/**
 * What Linux's /proc says about another process, so a server can be measured
 * from outside without any hook in its code.
 */

// Clock ticks per second for utime/stime in /proc/<pid>/stat. 100 on every
// Linux this runs on (USER_HZ); `getconf CLK_TCK` confirms it.
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time used so far by every thread of `pid`, user + system, in seconds (10 ms resolution). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after its closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU time the whole machine has spent busy (every core, every process and
 * the kernel), in seconds. Compared with a server's and the load's own time
 * it shows whether anything else competed for the cores during a run.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND;
}

/** Resident and peak resident memory of `pid`, in bytes. */
export function memory(pid: number): { rss: number; peakRss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: statusKib(status, 'VmRSS') * 1024, peakRss: statusKib(status, 'VmHWM') * 1024 };
}

/**
 * Resident memory of `pid` by kind, in bytes: anonymous (the heaps, V8's
 * and malloc's: where a leak shows) and file-backed plus shared (mapped
 * files, e.g. the code and SQLite's shared WAL index).
 */
export function residentParts(pid: number): { anon: number; fileAndShared: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { anon: statusKib(status, 'RssAnon') * 1024, fileAndShared: (statusKib(status, 'RssFile') + statusKib(status, 'RssShmem')) * 1024 };
}

/** Number of open file descriptors of `pid`. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The soft limit on open files of this process. */
export function openFileLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(soft);
}

function statusKib(status: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`/proc status has no ${key}`);
  return Number(match[1]);
}
