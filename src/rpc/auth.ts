import type { Metadata } from '@grpc/grpc-js';

/** The token of an `authorization: Bearer <token>` metadata entry, if present. */
export function bearerToken(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}
