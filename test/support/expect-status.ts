import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

/** Awaits a call that must fail with `code`; resolves with its error (details say why), fails the test on an answer. */
export async function failure(call: Promise<unknown>, code: status): Promise<grpc.ServiceError> {
  const outcome = await call.then(
    (response) => ({ ok: true as const, response }),
    (err: grpc.ServiceError) => ({ ok: false as const, err }),
  );
  if (outcome.ok) throw new Error(`expected ${status[code]}, got a response: ${JSON.stringify(outcome.response)}`);
  expect(status[outcome.err.code], outcome.err.details).to.equal(status[code]);
  return outcome.err;
}
