import { createServer } from 'node:net';
import { formatTarget, portInUseMessage } from '../rpc/server';

/** One sentence for a failed listen on `host:port`, naming `flag` as the way out. */
export function listenError(host: string, port: number, flag: string, err: NodeJS.ErrnoException): Error {
  const address = formatTarget(host, port);
  return new Error(err.code === 'EADDRINUSE' ? portInUseMessage(address, flag) : `cannot listen on ${address}: ${err.code ?? err.message} — check ${flag}`);
}

/** "[::1]" → "::1": what net.listen takes. */
export function bareHost(host: string): string {
  return host.replace(/^\[|\]$/g, '');
}

/**
 * Resolves once `host:port` could be bound, and lets it go again; rejects
 * with one sentence when another process holds it. Run before the database
 * is opened, so a second server started by mistake touches nothing. (grpc-js
 * binds the port itself later; should another process take it in between,
 * that bind fails with the same sentence.)
 */
export function ensurePortFree(host: string, port: number, flag: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => reject(listenError(host, port, flag, err)));
    probe.listen({ host: bareHost(host), port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
