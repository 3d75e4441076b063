import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * Pins the server under test to one core and the load generator to another,
 * so that neither steals the other's time slices and the server's CPU per
 * message is not inflated by cache and scheduler churn. Uses taskset(1)
 * (util-linux); where it is missing or there is only one core, the runs go
 * unpinned and the report says so.
 */
export interface Pinning {
  /** True when processes are pinned. */
  enabled: boolean;
  serverCore: number;
  loadCore: number;
  /** One sentence for the report: where things run, or why they are not pinned. */
  description: string;
  /** The command prefix that starts a server on its core ([] when not pinned). */
  serverPrefix(): string[];
  /** Moves a running process (every thread) to the load core; no-op when not pinned. */
  pinLoad(pid: number): void;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Decides the pinning for this machine; `wanted` false turns it off. */
export function choosePinning(wanted: boolean): Pinning {
  const cores = availableParallelism();
  const unpinned = (why: string): Pinning => ({
    enabled: false,
    serverCore: -1,
    loadCore: -1,
    description: `not pinned: ${why}; server and load share the cores, so expect noisier figures`,
    serverPrefix: () => [],
    pinLoad: () => undefined,
  });
  if (!wanted) return unpinned('--no-pin was given');
  if (cores < 2) return unpinned(`only ${cores} core is available to this process`);
  if (!hasTaskset()) return unpinned('taskset was not found (install util-linux to pin)');
  const serverCore = 0;
  const loadCore = 1;
  return {
    enabled: true,
    serverCore,
    loadCore,
    description: `server(s) pinned to core ${serverCore}, load generator and this process to core ${loadCore} (taskset)`,
    serverPrefix: () => ['taskset', '-c', String(serverCore)],
    pinLoad: (pid) => {
      execFileSync('taskset', ['-a', '-p', '-c', String(loadCore), String(pid)], { stdio: 'ignore' });
    },
  };
}
