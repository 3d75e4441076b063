import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { expectStatus } from './expect-status';

/** A rejection shaped like the errors grpc-js calls fail with. */
function failedWith(code: status, details: string): Promise<never> {
  return Promise.reject(Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details }));
}

describe('expectStatus', function () {
  it('resolves with the error of a call that fails with the expected status', async () => {
    const error = await expectStatus(failedWith(status.NOT_FOUND, 'no such user'), status.NOT_FOUND);
    expect(error.details).to.equal('no such user');
  });

  it('fails naming both statuses and the details when the call fails with another status', async () => {
    const thrown = await expectStatus(failedWith(status.INVALID_ARGUMENT, 'name too long'), status.NOT_FOUND).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(thrown?.message).to.contain('expected NOT_FOUND, got INVALID_ARGUMENT: name too long');
  });

  it('fails naming the response when the call succeeds', async () => {
    const thrown = await expectStatus(Promise.resolve({ text: 'welcome' }), status.UNAUTHENTICATED).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(thrown?.message).to.equal('expected the call to fail with UNAUTHENTICATED, but it succeeded with {"text":"welcome"}');
  });
});
