import type { Bus } from './bus';
import { InProcessBus } from './in-process-bus';
import { connectNatsBus, type NatsBusOptions } from './nats-bus';

/**
 * The bus a node should use: without a URL, an in-process bus of its own (a
 * single node); with nats://HOST:PORT, that NATS server (several nodes).
 * Rejects any other scheme, and a server that cannot be reached, with a
 * sentence that says what to do.
 */
export async function connectBus(url: string | undefined, options: NatsBusOptions = {}): Promise<Bus> {
  if (url === undefined) return new InProcessBus(options);
  // Only the scheme goes into the message: the rest may hold a password.
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme !== 'nats') {
    const what = scheme ? `a ${scheme}: URL` : 'a URL without a scheme';
    throw new Error(`cannot use ${what} for the bus: give nats://HOST:PORT (for example nats://127.0.0.1:4222), or no URL for a single node`);
  }
  return connectNatsBus(url, options);
}
