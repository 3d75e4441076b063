import type { Metadata } from '@grpc/grpc-js';

/** The token of an `authorization: Bearer <token>` metadata entry, if present. */
export function bearerToken(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

/** The address part of a grpc-js peer ("127.0.0.1:5000" → "127.0.0.1", "[::1]:5000" → "::1"). */
export function peerAddress(peer: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(peer);
  if (bracketed) return bracketed[1];
  const match = /^(.*):\d+$/.exec(peer);
  return match ? match[1] : peer;
}
