import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

/** The names a health check may ask about: the whole server ("") and the chat service. */
export const HEALTH_CHECKED_SERVICES: readonly string[] = ['', 'tinychat.v1.Chat'];

type ServingStatus = 'SERVING' | 'NOT_SERVING';

interface HealthRequest {
  service: string;
}

interface HealthResponse {
  status: ServingStatus | 'SERVICE_UNKNOWN';
}

/**
 * The standard grpc.health.v1.Health service (Check, Watch and List) for
 * TinyChat, so load balancers, orchestrators and grpc-health-probe can ask
 * whether the server takes calls.
 */
export interface Health {
  /** Adds grpc.health.v1.Health to the server; call before the server starts. */
  register(server: grpc.Server): void;
  /**
   * Reports every checked service as SERVING or NOT_SERVING. Open Watch
   * streams receive the new status right away.
   */
  setServing(serving: boolean): void;
  /**
   * Reports NOT_SERVING, then ends every open Watch stream with UNAVAILABLE
   * (watchers reconnect to another server) so that a graceful shutdown is
   * not held open by them. Later Watch calls end the same way.
   */
  shutdown(): void;
}

/**
 * Creates the health service. Every checked service starts SERVING: the
 * service is only reachable once the server is listening, and the server
 * says otherwise by calling setServing(false) or shutdown().
 */
export function createHealth(): Health {
  const statuses = new Map<string, ServingStatus>(
    HEALTH_CHECKED_SERVICES.map((name) => [name, 'SERVING']),
  );
  const watchers = new Set<grpc.ServerWritableStream<HealthRequest, HealthResponse>>();
  let shutDown = false;

  const statusOf = (name: string): HealthResponse => ({ status: statuses.get(name) ?? 'SERVICE_UNKNOWN' });

  const endWithUnavailable = (call: grpc.ServerWritableStream<HealthRequest, HealthResponse>) => {
    // Emitting 'error' is how grpc-js ends a server stream with a status.
    call.emit('error', {
      code: grpc.status.UNAVAILABLE,
      details: 'The server is shutting down; reconnect to watch its health again.',
    });
  };

  const implementation: grpc.UntypedServiceImplementation = {
    check(
      call: grpc.ServerUnaryCall<HealthRequest, HealthResponse>,
      callback: grpc.sendUnaryData<HealthResponse>,
    ) {
      const status = statuses.get(call.request.service);
      if (status === undefined) {
        callback({
          code: grpc.status.NOT_FOUND,
          details: `No health status for service "${call.request.service}"; ask about "" (the whole server) or one of: ${HEALTH_CHECKED_SERVICES.filter((n) => n).join(', ')}.`,
        });
        return;
      }
      callback(null, { status });
    },

    watch(call: grpc.ServerWritableStream<HealthRequest, HealthResponse>) {
      call.write(statusOf(call.request.service));
      if (shutDown) {
        endWithUnavailable(call);
        return;
      }
      watchers.add(call);
      const forget = () => watchers.delete(call);
      call.on('cancelled', forget);
      call.on('close', forget);
    },

    list(
      _call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<{ statuses: Record<string, HealthResponse> }>,
    ) {
      const all: Record<string, HealthResponse> = {};
      for (const [name, status] of statuses) all[name] = { status };
      callback(null, { statuses: all });
    },
  };

  const setServing = (serving: boolean) => {
    const status: ServingStatus = serving ? 'SERVING' : 'NOT_SERVING';
    for (const name of statuses.keys()) statuses.set(name, status);
    for (const call of watchers) {
      // A watcher of an unknown service has nothing new to hear.
      if (statuses.has(call.request.service)) call.write(statusOf(call.request.service));
    }
  };

  return {
    register(server) {
      server.addService(healthService as unknown as grpc.ServiceDefinition, implementation);
    },
    setServing,
    shutdown() {
      setServing(false);
      shutDown = true;
      for (const call of watchers) endWithUnavailable(call);
      watchers.clear();
    },
  };
}
