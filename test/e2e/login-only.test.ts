import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { ChatConnection, ClientError } from '../../src/client/connection';
import type { CommandRequest, CommandResponse } from '../../src/gen/tinychat/v1/chat';
import { expectStatus } from '../support/expect-status';
import { TEST_PASSWORD, WireClient } from '../support/grpc-client';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

describe('logging in without registering (login_only)', function () {
  let server: TestServer;
  let client: WireClient;

  beforeEach(async function () {
    server = await startTestServer();
    client = new WireClient(server.target);
  });

  afterEach(async function () {
    client.close();
    await server.stop();
    removeTempDirs();
  });

  function request(req: CommandRequest): Promise<CommandResponse> {
    return new Promise((resolve, reject) => client.client.command(req, client.metadata(undefined), (err, response) => (err ? reject(err) : resolve(response!))));
  }

  const loginOnly = (name: string, password = TEST_PASSWORD): CommandRequest => ({
    input: { $case: 'invocation', invocation: { name: 'LOGIN', args: [name, password] } },
    loginOnly: true,
  });

  it('answers NOT_FOUND for a name nobody registered, says so, and registers nothing', async function () {
    const err = await expectStatus(request(loginOnly('newcomer')), status.NOT_FOUND);
    expect(err.details).to.equal('there is no account named newcomer — check the spelling, or log in without login_only to register it with this password');
    await client.login('someone');
    const users = await client.command('/USERS');
    expect(users.result?.$case === 'users' && users.result.users.users.map((u) => u.name)).to.deep.equal(['someone']);
  });

  it('logs in to an existing account as usual, typed as a line too', async function () {
    const registering = new WireClient(server.target);
    await registering.login('alice');
    registering.close();
    const response = await request({ input: { $case: 'line', line: `/LOGIN alice ${TEST_PASSWORD}` }, loginOnly: true });
    expect(response.result?.$case === 'login' && response.result.login.registered).to.equal(false);
  });

  it('lets a client connect with register: false only to an existing account, and tells it how long a lockout lasts', async function () {
    const newcomer = new ChatConnection({ server: server.target, user: 'newcomer', password: TEST_PASSWORD, register: false });
    const refused = await newcomer.connect().then(() => undefined, (e: ClientError) => e);
    await newcomer.close();
    expect(refused?.code).to.equal(status.NOT_FOUND);
    await client.login('bob');
    let last: ClientError | undefined;
    for (let i = 0; i < 6; i += 1) {
      const wrong = new ChatConnection({ server: server.target, user: 'bob', password: 'not the password', register: false });
      last = await wrong.connect().then(() => undefined, (e: ClientError) => e);
      await wrong.close();
    }
    expect(last?.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(last?.retryAfterMs).to.be.within(50_000, 60_000);
  });
});
