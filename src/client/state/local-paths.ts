import { readdirSync, type Dirent } from 'node:fs';

/**
 * Local paths that start with `typed`, for Tab after /SEND: the entries of
 * its folder (the current one when it names none) whose names start with
 * what follows the last "/", folders with a "/" after them, sorted. Hidden
 * entries only when a "." was typed. A folder that cannot be read offers
 * nothing.
 */
export function localPaths(typed: string): string[] {
  const slash = typed.lastIndexOf('/');
  const folder = slash >= 0 ? typed.slice(0, slash + 1) : '';
  const start = typed.slice(slash + 1);
  let entries: Dirent[];
  try {
    entries = readdirSync(folder === '' ? '.' : folder, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((entry) => entry.name.startsWith(start) && (start.startsWith('.') || !entry.name.startsWith('.')))
    .map((entry) => `${folder}${entry.name}${entry.isDirectory() ? '/' : ''}`)
    .sort();
}
