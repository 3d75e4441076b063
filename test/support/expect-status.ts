import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';

/**
 * Awaits a call that must fail with the gRPC status `code`, and resolves
 * with its error so the test can check the details. Fails the test, naming
 * both statuses (e.g. "expected UNAUTHENTICATED, got INVALID_ARGUMENT: …"),
 * when the call fails with another status, and names the response when it
 * succeeds.
 */
export async function expectStatus(call: Promise<unknown>, code: status): Promise<ServiceError> {
  const outcome = await call.then(
    (response) => ({ ok: true as const, response }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (outcome.ok) {
    throw new Error(`expected the call to fail with ${status[code]}, but it succeeded with ${JSON.stringify(outcome.response)}`);
  }
  const error = outcome.err as ServiceError;
  if (typeof error?.code !== 'number') throw new Error(`expected the call to fail with ${status[code]}, but it threw a non-gRPC error: ${String(outcome.err)}`);
  expect(status[error.code], `expected ${status[code]}, got ${status[error.code]}: ${error.details}`).to.equal(status[code]);
  return error;
}
