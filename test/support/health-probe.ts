import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

/** A client of the standard grpc.health.v1.Health service. */
export const HealthClient = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');

/** The calls of HealthClient the tests use. */
export interface HealthStub extends grpc.Client {
  check(request: { service: string }, callback: (err: grpc.ServiceError | null, response?: { status: string }) => void): grpc.ClientUnaryCall;
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

/** Asks a server's health service, over a connection of its own. */
export class HealthProbe {
  private readonly client: HealthStub;

  constructor(target: string) {
    this.client = new HealthClient(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as HealthStub;
  }

  /** The status of `service` ("" for the whole server): SERVING, NOT_SERVING, …; rejects when the call fails. */
  check(service = ''): Promise<string> {
    return new Promise((resolve, reject) =>
      this.client.check({ service }, (err, response) => (err ? reject(err) : resolve(response!.status))),
    );
  }

  close(): void {
    this.client.close();
  }
}
