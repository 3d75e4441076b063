import type { ChatError } from './errors';

/**
 * What the domain needs to know about live connections, without knowing how
 * they are held (queue/online-registry.ts implements it).
 */
export interface OnlineDirectory {
  /** True while the user holds at least one Converse stream. */
  isOnline(userId: number): boolean;
  /** Ends every stream opened with this session: with OK when `reason` is absent (/QUIT). */
  endSession(tokenHash: string, reason?: ChatError): void;
  /** Ends every stream of the user except those of `keepTokenHash`, with `reason` (OK when absent). */
  endUserSessions(userId: number, keepTokenHash: string | undefined, reason?: ChatError): void;
}
