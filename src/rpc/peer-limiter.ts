import { ChatError } from '../chat/errors';
import { peerAddress } from './auth';

/**
 * Bounds the connections one network address holds with calls in flight.
 * grpc-js has no hook for accepted connections, so a connection is counted
 * by its peer (address and port) while it has at least one call; idle
 * connections are closed by the server's idle timeout instead.
 */
export class PeerLimiter {
  /** address → peer ("address:port") → calls in flight */
  private readonly byAddress = new Map<string, Map<string, number>>();

  /** 0 turns the limit off. */
  constructor(private readonly maxConnectionsPerAddress: number) {}

  /**
   * Counts a call from `peer`; returns the function that uncounts it, or
   * throws RESOURCE_EXHAUSTED when it would open one connection too many.
   */
  enter(peer: string): () => void {
    if (this.maxConnectionsPerAddress <= 0) return () => undefined;
    const address = peerAddress(peer);
    let peers = this.byAddress.get(address);
    if (!peers) {
      peers = new Map();
      this.byAddress.set(address, peers);
    }
    const calls = peers.get(peer) ?? 0;
    if (calls === 0 && peers.size >= this.maxConnectionsPerAddress) {
      throw new ChatError(
        'resource-exhausted',
        `too many connections from ${address} (at most ${this.maxConnectionsPerAddress}) — close some clients and try again`,
      );
    }
    peers.set(peer, calls + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (peers.get(peer) ?? 1) - 1;
      if (left > 0) peers.set(peer, left);
      else peers.delete(peer);
      if (peers.size === 0) this.byAddress.delete(address);
    };
  }
}
