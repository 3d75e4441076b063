import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { nameKey } from '../chat/names';

/** An open conversation as remembered between launches. */
export interface SavedConversation {
  peer: string;
  /** The newest message id read in it: later ones from the peer count as unread. */
  readId: number;
}

/** What a launch of the full-screen client leaves for the next one, per server and user. */
export interface SavedSession {
  server: string;
  user: string;
  /** The session token: the next launch resumes without the password. */
  token: string;
  conversations: SavedConversation[];
  /** The conversation shown, if any. */
  current?: string;
  /** When it was saved (ms since the epoch): without --user, the newest one for the server is resumed. */
  savedAt: number;
}

const FILE = 'sessions.json';

/** `$XDG_CONFIG_HOME/tinychat`, else `~/.config/tinychat`. */
export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'tinychat');
}

/**
 * The sessions the full-screen client keeps in `dir/sessions.json`: the
 * directory is made mode 0700 and the file 0600 (it holds session tokens),
 * written whole to a temporary file and renamed, so a crash never leaves
 * half a file. A file that cannot be read is taken as empty.
 */
export class SavedSessions {
  constructor(readonly dir: string) {}

  /** The file's path. */
  get path(): string {
    return join(this.dir, FILE);
  }

  /** The session saved for `user` at `server`, or without a user the newest one saved for the server. */
  find(server: string, user?: string): SavedSession | undefined {
    const matches = this.read().filter((s) => s.server === server && (!user || nameKey(s.user) === nameKey(user)));
    return matches.sort((a, b) => b.savedAt - a.savedAt)[0];
  }

  /** Saves (or replaces) the session of `session.user` at `session.server`. */
  save(session: SavedSession): void {
    const others = this.read().filter((s) => !same(s, session));
    this.write([...others, session]);
  }

  /** Forgets the session of `user` at `server` (/LOGOUT, or a token the server no longer takes). */
  forget(server: string, user: string): void {
    const all = this.read();
    const kept = all.filter((s) => !same(s, { server, user }));
    if (kept.length !== all.length) this.write(kept);
  }

  private read(): SavedSession[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return [];
    }
    try {
      const parsed = JSON.parse(text) as { sessions?: unknown };
      return Array.isArray(parsed.sessions) ? (parsed.sessions as SavedSession[]).filter(isSession) : [];
    } catch {
      return [];
    }
  }

  private write(sessions: SavedSession[]): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ version: 1, sessions }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.path);
  }
}

function same(a: { server: string; user: string }, b: { server: string; user: string }): boolean {
  return a.server === b.server && nameKey(a.user) === nameKey(b.user);
}

function isSession(value: unknown): value is SavedSession {
  const s = value as Partial<SavedSession> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.server === 'string' &&
    typeof s.user === 'string' &&
    typeof s.token === 'string' &&
    typeof s.savedAt === 'number' &&
    Array.isArray(s.conversations) &&
    s.conversations.every((c) => typeof c?.peer === 'string' && typeof c?.readId === 'number')
  );
}
