import { TEST_PASSWORD } from '../support/grpc-client';
import { expect } from 'chai';
import { bufCurl } from '../support/buf-curl';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

describe('buf curl against a running TinyChat server', function () {
  let server: TestServer;

  before(async function () {
    server = await startTestServer();
  });

  after(async function () {
    await server?.stop();
    removeTempDirs();
  });

  it('finds the chat service through reflection', async function () {
    const services = (await bufCurl(server.port, ['--list-services'])).trim().split('\n');
    expect(services).to.include('tinychat.v1.Chat');
  });

  it('logs in with /LOGIN and lists users with the token it returned', async function () {
    const login = JSON.parse(await bufCurl(server.port, ['--data', JSON.stringify({ line: `/LOGIN alice ${TEST_PASSWORD}` })], '/tinychat.v1.Chat/Command'));
    const token: string = login.login.token;
    expect(token).to.be.a('string').and.not.equal('');

    const users = JSON.parse(
      await bufCurl(
        server.port,
        ['--data', '{"line":"/USERS"}', '-H', `authorization: Bearer ${token}`],
        '/tinychat.v1.Chat/Command',
      ),
    );
    expect(users.users.users.map((u: { name: string }) => u.name)).to.include('alice');
  });
});
