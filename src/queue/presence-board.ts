/** A user as the board knows them. */
export interface BoardUser {
  userId: number;
  name: string;
}

/** A user's change of cluster-wide presence: online on some node, or on none. */
export interface BoardChange extends BoardUser {
  online: boolean;
}

interface NodeEntry {
  /** Streams per user on that node. */
  streams: Map<number, number>;
  names: Map<number, string>;
  /** When the node was last heard from (any event, or a heartbeat). */
  heardAt: number;
}

/**
 * Who is online where: this node's streams per user, and what the other
 * nodes last said of theirs. A user is online while any node that is still
 * heard from holds a stream of theirs. Every method that changes the picture
 * returns the users whose cluster-wide presence changed, so the caller can
 * announce exactly those.
 *
 * With no other node it is simply this node's own count, which is what a
 * single server needs.
 */
export class PresenceBoard {
  private readonly local = new Map<number, number>();
  private readonly localNames = new Map<number, string>();
  private readonly remote = new Map<string, NodeEntry>();

  /** Streams of the user on this node and every node heard from. */
  streamsOf(userId: number): number {
    let count = this.local.get(userId) ?? 0;
    for (const node of this.remote.values()) count += node.streams.get(userId) ?? 0;
    return count;
  }

  /** Streams of the user on this node only. */
  localStreamsOf(userId: number): number {
    return this.local.get(userId) ?? 0;
  }

  /** True while some node holds a stream of the user. */
  isOnline(userId: number): boolean {
    return this.streamsOf(userId) > 0;
  }

  /** True while a node other than this one holds a stream of the user. */
  isOnlineElsewhere(userId: number): boolean {
    for (const node of this.remote.values()) if ((node.streams.get(userId) ?? 0) > 0) return true;
    return false;
  }

  /** This node's users with their stream counts, for telling other nodes. */
  localUsers(): Array<BoardUser & { streams: number }> {
    return [...this.local].map(([userId, streams]) => ({ userId, name: this.localNames.get(userId)!, streams }));
  }

  /** Total streams this node holds (for heartbeats: another node compares it with what it knows). */
  localStreamTotal(): number {
    let total = 0;
    for (const count of this.local.values()) total += count;
    return total;
  }

  /** The streams another node holds, as far as this board knows. */
  remoteStreamTotal(node: string): number | undefined {
    const entry = this.remote.get(node);
    if (!entry) return undefined;
    let total = 0;
    for (const count of entry.streams.values()) total += count;
    return total;
  }

  /** Sets this node's stream count of a user (0: none left). */
  setLocal(user: BoardUser, streams: number): BoardChange[] {
    return this.changing([user.userId], () => {
      if (streams > 0) {
        this.local.set(user.userId, streams);
        this.localNames.set(user.userId, user.name);
      } else {
        this.local.delete(user.userId);
        this.localNames.delete(user.userId);
      }
    });
  }

  /** Sets another node's stream count of a user, as that node reported it at `now`. */
  setRemote(node: string, user: BoardUser, streams: number, now: number): BoardChange[] {
    return this.changing([user.userId], () => {
      const entry = this.entry(node, now);
      if (streams > 0) {
        entry.streams.set(user.userId, streams);
        entry.names.set(user.userId, user.name);
      } else {
        entry.streams.delete(user.userId);
        entry.names.delete(user.userId);
      }
    });
  }

  /**
   * Replaces part of what another node holds with a full account of it: the
   * users listed (one page of a snapshot); `first` clears what was known.
   */
  replaceRemote(node: string, users: Array<BoardUser & { streams: number }>, first: boolean, now: number): BoardChange[] {
    const before = this.remote.get(node);
    const affected = [...users.map((u) => u.userId), ...(first && before ? before.streams.keys() : [])];
    return this.changing(affected, () => {
      const entry = this.entry(node, now);
      if (first) {
        entry.streams.clear();
        entry.names.clear();
      }
      for (const user of users) {
        if (user.streams <= 0) continue;
        entry.streams.set(user.userId, user.streams);
        entry.names.set(user.userId, user.name);
      }
    });
  }

  /** Notes that a node was heard from, creating it if new. */
  heard(node: string, now: number): void {
    this.entry(node, now);
  }

  /** Forgets a node (it left, or went silent): its users go offline unless held elsewhere. */
  forget(node: string): BoardChange[] {
    const entry = this.remote.get(node);
    if (!entry) return [];
    return this.changing([...entry.streams.keys()], () => this.remote.delete(node));
  }

  /** Forgets every node not heard from since `since`; returns the changes and the nodes forgotten. */
  forgetSilent(since: number): { changes: BoardChange[]; nodes: string[] } {
    const nodes = [...this.remote].filter(([, entry]) => entry.heardAt < since).map(([node]) => node);
    return { changes: nodes.flatMap((node) => this.forget(node)), nodes };
  }

  /** Nodes heard from, other than this one. */
  nodes(): string[] {
    return [...this.remote.keys()];
  }

  private entry(node: string, now: number): NodeEntry {
    let entry = this.remote.get(node);
    if (!entry) {
      entry = { streams: new Map(), names: new Map(), heardAt: now };
      this.remote.set(node, entry);
    }
    entry.heardAt = Math.max(entry.heardAt, now);
    return entry;
  }

  // Runs `change` and reports the users among `userIds` whose online flag flipped.
  private changing(userIds: Iterable<number>, change: () => void): BoardChange[] {
    const ids = [...new Set(userIds)];
    const before = ids.map((id) => ({ id, online: this.isOnline(id), name: this.nameOf(id) }));
    change();
    const changes: BoardChange[] = [];
    for (const { id, online, name } of before) {
      const now = this.isOnline(id);
      if (now !== online) changes.push({ userId: id, name: this.nameOf(id) ?? name ?? String(id), online: now });
    }
    return changes;
  }

  private nameOf(userId: number): string | undefined {
    const local = this.localNames.get(userId);
    if (local !== undefined) return local;
    for (const node of this.remote.values()) {
      const name = node.names.get(userId);
      if (name !== undefined) return name;
    }
    return undefined;
  }
}
