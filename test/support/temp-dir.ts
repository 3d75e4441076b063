import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Directories for the current test, removed by removeTempDirs() (in an afterEach). */
const perTest: string[] = [];

/**
 * A fresh temporary directory. By default it lasts one test: removeTempDirs()
 * removes it. One made for a whole suite (`'suite'`, e.g. in a before hook)
 * is left alone by removeTempDirs and removed with removeTempDir(dir).
 */
export function makeTempDir(prefix = 'tinychat-test-', lifetime: 'test' | 'suite' = 'test'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (lifetime === 'test') perTest.push(dir);
  return dir;
}

/** Removes one directory made by makeTempDir, whatever its lifetime. */
export function removeTempDir(dir: string): void {
  const at = perTest.indexOf(dir);
  if (at >= 0) perTest.splice(at, 1);
  rmSync(dir, { recursive: true, force: true });
}

/** Removes every per-test directory made by makeTempDir. */
export function removeTempDirs(): void {
  for (const dir of perTest.splice(0)) rmSync(dir, { recursive: true, force: true });
}
