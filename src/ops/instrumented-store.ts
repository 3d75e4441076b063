import { performance } from 'node:perf_hooks';
import { isChatError } from '../chat/errors';
import type { RoomAppendResult, RoomPost } from '../store/room-store';
import type { AppendResult, NewMessage, Store } from '../store/store';
import type { ServerMetrics } from './metrics';

/**
 * The same store, reporting to `metrics`: the time and size of each append
 * transaction, the messages it newly stored, and every call that failed for
 * want of a working database (labelled with the method's name). Requests the
 * store refuses on their merits (an unknown user) are not store errors.
 *
 * Every method of the store, whatever its backend adds, is wrapped and bound
 * to the store, so the wrapper can stand in for it anywhere.
 */
export function instrumentStore(store: Store, metrics: ServerMetrics): Store {
  const wrapper = Object.create(store) as Record<string, unknown>;
  for (const name of methodNames(store)) {
    const method = (store as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
    const failed = (err: unknown) => {
      if (!isChatError(err) || err.code === 'unavailable' || err.code === 'internal') metrics.storeError(name);
      throw err;
    };
    wrapper[name] = (...args: unknown[]) => {
      const started = performance.now();
      let result: unknown;
      try {
        result = method.apply(store, args);
      } catch (err) {
        return failed(err);
      }
      if (!(result instanceof Promise)) return result;
      // A room message is stored once, however many members it goes to.
      if (name === 'postToRoom' && (args[0] as RoomPost).event === 'message') {
        return result.then((posted: RoomAppendResult) => {
          if (!posted.duplicate) metrics.messagesStored(1);
          return posted;
        }, failed);
      }
      if (name !== 'appendMessages') return result.catch(failed);
      return result.then((results: AppendResult[]) => {
        metrics.storeCommit((performance.now() - started) / 1000, (args[0] as NewMessage[]).length);
        const fresh = results.filter((r) => !r.duplicate).length;
        if (fresh > 0) metrics.messagesStored(fresh);
        return results;
      }, failed);
    };
  }
  return wrapper as unknown as Store;
}

function methodNames(store: Store): Set<string> {
  const names = new Set<string>();
  for (let proto = Object.getPrototypeOf(store); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name !== 'constructor' && typeof (store as unknown as Record<string, unknown>)[name] === 'function') names.add(name);
    }
  }
  return names;
}
