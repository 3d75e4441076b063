import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { ChatConnection, ClientError, type ClientTls } from '../../src/client/connection';
import type { Message } from '../../src/gen/tinychat/v1/chat';
import { eventually } from '../support/eventually';
import { TEST_PASSWORD, WireClient } from '../support/grpc-client';
import { runCli, type CliResult } from '../support/cli';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { makeTempDir, removeTempDir } from '../support/temp-dir';
import { FAST_BACKOFF, watchConnection } from '../support/connection-watcher';

/** PEM files of a throwaway PKI: their paths, and their contents by the same names. */
interface Pki {
  paths: Record<PkiFile, string>;
  pem: Record<PkiFile, Buffer>;
}

type PkiFile =
  | 'caCert'
  | 'serverCert'
  | 'serverKey'
  | 'clientCert'
  | 'clientKey'
  | 'otherCaCert'
  | 'strangerCert'
  | 'strangerKey'
  | 'elsewhereCert'
  | 'elsewhereKey';

/**
 * Makes, with the openssl CLI, a CA; a server certificate it signs for
 * 127.0.0.1 and localhost; a client certificate it signs; and an unrelated
 * CA with a client certificate of its own; and a server certificate the CA
 * signs for another host name only. EC keys keep it to a few
 * milliseconds; the certificates are valid for one day.
 */
function makePki(dir: string): Pki {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  let serial = 1000;
  const makeCa = (name: string, subject: string) =>
    openssl('req', '-x509', ...key, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${subject}`, '-days', '1',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const makeLeaf = (name: string, subject: string, ca: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl('req', '-new', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${subject}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-days', '1',
      '-set_serial', String(serial++), '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  makeCa('ca', 'TinyChat test CA');
  makeCa('other-ca', 'Unrelated test CA');
  makeLeaf('server', 'localhost', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  makeLeaf('client', 'alice', 'ca', 'extendedKeyUsage=clientAuth\n');
  makeLeaf('stranger', 'mallory', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  makeLeaf('elsewhere', 'chat.example.org', 'ca', 'subjectAltName=DNS:chat.example.org\nextendedKeyUsage=serverAuth\n');
  const files: Record<PkiFile, string> = {
    caCert: 'ca.crt',
    serverCert: 'server.crt',
    serverKey: 'server.key',
    clientCert: 'client.crt',
    clientKey: 'client.key',
    otherCaCert: 'other-ca.crt',
    strangerCert: 'stranger.crt',
    strangerKey: 'stranger.key',
    elsewhereCert: 'elsewhere.crt',
    elsewhereKey: 'elsewhere.key',
  };
  const entries = Object.entries(files) as Array<[PkiFile, string]>;
  return {
    paths: Object.fromEntries(entries.map(([k, file]) => [k, join(dir, file)])) as Pki['paths'],
    pem: Object.fromEntries(entries.map(([k, file]) => [k, readFileSync(join(dir, file))])) as Pki['pem'],
  };
}

/** Runs `tinychat chat` to completion with `input` on stdin and the test password in its environment. */
function runChat(args: string[], input: string): Promise<CliResult> {
  return runCli(['chat', ...args], { input, timeoutMs: 10_000 });
}

describe('TLS between clients and the server', function () {
  this.timeout(15_000);
  let pkiDir: string;
  let pki: Pki;
  let servers: TestServer[];
  let processes: ServerProcess[];
  let connections: ChatConnection[];
  let wireClients: WireClient[];

  before(() => {
    pkiDir = makeTempDir('tinychat-pki-', 'suite');
    pki = makePki(pkiDir);
  });

  after(() => removeTempDir(pkiDir));

  beforeEach(() => {
    servers = [];
    processes = [];
    connections = [];
    wireClients = [];
  });

  afterEach(async () => {
    await Promise.all(connections.map((c) => c.close()));
    for (const client of wireClients) client.close();
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    removeTempDirs();
  });

  async function tlsServer(mutual = false): Promise<TestServer> {
    const server = await startTestServer({
      tls: { cert: pki.pem.serverCert, key: pki.pem.serverKey, clientCa: mutual ? pki.pem.caCert : undefined },
    });
    servers.push(server);
    return server;
  }

  function connection(target: string, user: string, tls: ClientTls | undefined): ChatConnection {
    const made = new ChatConnection({ server: target, user, password: TEST_PASSWORD, tls, backoff: FAST_BACKOFF, callTimeoutMs: 3000 });
    connections.push(made);
    return made;
  }

  /** A connected client that records the messages it receives. */
  async function listener(target: string, user: string, tls: ClientTls | undefined): Promise<Message[]> {
    const watched = watchConnection(target, user, { tls, callTimeoutMs: 3000 });
    connections.push(watched.connection);
    await watched.connection.connect();
    return watched.messages;
  }

  /** The ClientError connect() rejects with. */
  async function refusal(made: ChatConnection): Promise<ClientError> {
    const error = await made.connect().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error, 'connect() should have been refused').to.be.instanceOf(ClientError);
    expect(made.state).to.equal('closed');
    return error as ClientError;
  }

  it('lets two clients that trust the CA log in and exchange a message over TLS', async () => {
    const server = await tlsServer();
    // One connects by IP and one by name: the certificate lists both.
    const bobMessages = await listener(`localhost:${server.port}`, 'bob', { ca: pki.pem.caCert });
    const alice = connection(server.target, 'alice', { ca: pki.pem.caCert });
    await alice.connect();
    alice.send('bob', 'hello over TLS');
    await eventually('bob to receive the message', () => bobMessages.length === 1);
    expect(bobMessages[0]).to.include({ sender: 'alice', receiver: 'bob', body: 'hello over TLS' });
  });

  it('refuses a plaintext client at a TLS server and suggests --tls', async () => {
    const server = await tlsServer();
    const error = await refusal(connection(server.target, 'alice', undefined));
    expect(error.code).to.equal(status.UNAVAILABLE);
    expect(error.message).to.include(server.target).and.include('may require TLS').and.include('--tls');
    expect(error.message).to.not.include('is `tinychat serve` running');
  });

  it('refuses a TLS client at a plaintext server, saying the server does not speak TLS', async () => {
    const server = await startTestServer();
    servers.push(server);
    const error = await refusal(connection(server.target, 'alice', { ca: pki.pem.caCert }));
    expect(error.code).to.equal(status.UNAVAILABLE);
    expect(error.message).to.equal(`${server.target} does not speak TLS — connect without --tls and --ca, or ask its operator to turn TLS on`);
  });

  it('refuses a client that trusts a different CA, saying the certificate is not trusted and naming --ca', async () => {
    const server = await tlsServer();
    for (const tls of [{ ca: pki.pem.otherCaCert }, {}]) {
      // {} trusts only the system's CAs, which never signed a throwaway certificate.
      const error = await refusal(connection(server.target, 'alice', tls));
      expect(error.code).to.equal(status.UNAVAILABLE);
      expect(error.message).to.include(`the certificate of ${server.target} is not trusted`).and.include('--ca FILE');
    }
  });

  it('refuses a server whose certificate is made out to another name, saying so', async () => {
    const server = await startTestServer({ tls: { cert: pki.pem.elsewhereCert, key: pki.pem.elsewhereKey } });
    servers.push(server);
    const error = await refusal(connection(server.target, 'alice', { ca: pki.pem.caCert }));
    expect(error.code).to.equal(status.UNAVAILABLE);
    expect(error.message).to.include(`the certificate of ${server.target} is not made out to that name or address`);
  });

  it('with mutual TLS, refuses clients without a certificate or with one from another CA, and admits one the CA signed', async () => {
    const server = await tlsServer(true);
    const without = await refusal(connection(server.target, 'mallory', { ca: pki.pem.caCert }));
    expect(without.code).to.equal(status.UNAVAILABLE);
    expect(without.message).to.include('--tls-cert').and.include('--tls-key');
    const stranger = await refusal(
      connection(server.target, 'mallory', { ca: pki.pem.caCert, cert: pki.pem.strangerCert, key: pki.pem.strangerKey }),
    );
    expect(stranger.code).to.equal(status.UNAVAILABLE);
    expect(stranger.message).to.include('--tls-cert').and.include('--tls-key');

    const withCert = { ca: pki.pem.caCert, cert: pki.pem.clientCert, key: pki.pem.clientKey };
    const bobMessages = await listener(server.target, 'bob', withCert);
    const alice = connection(server.target, 'alice', withCert);
    await alice.connect();
    alice.send('bob', 'hello over mutual TLS');
    await eventually('bob to receive the message', () => bobMessages.length === 1);
    expect(bobMessages[0]).to.include({ sender: 'alice', body: 'hello over mutual TLS' });
  });

  describe('from the command line', function () {
    it('serves TLS with --tls-cert/--tls-key, and `chat --ca` sends through it', async () => {
      const server = await startServerProcess({
        dbPath: join(makeTempDir(), 'chat.db'),
        extraArgs: ['--tls-cert', pki.paths.serverCert, '--tls-key', pki.paths.serverKey],
      });
      processes.push(server);
      expect(server.log()).to.match(/listening address=127\.0\.0\.1:\d+ .*tls=on/);
      const bobMessages = await listener(server.target, 'bob', { ca: pki.pem.caCert });

      const sent = await runChat(['--server', server.target, '--user', 'alice', '--ca', pki.paths.caCert], '/START bob\nhello from the command line\n');
      expect(sent.code, sent.stderr).to.equal(0);
      expect(sent.stdout).to.include('conversation with bob open');
      await eventually('bob to receive the message', () => bobMessages.length === 1);
      expect(bobMessages[0]).to.include({ sender: 'alice', body: 'hello from the command line' });

      const plain = await runChat(['--server', server.target, '--user', 'alice'], 'not sent\n');
      expect(plain.code).to.equal(1);
      expect(plain.stderr).to.include('may require TLS: try --tls');
      expect(bobMessages).to.have.length(1);
    });

    it('requires client certificates with --tls-client-ca, and `chat --tls-cert/--tls-key` presents one', async () => {
      const server = await startServerProcess({
        dbPath: join(makeTempDir(), 'chat.db'),
        extraArgs: ['--tls-cert', pki.paths.serverCert, '--tls-key', pki.paths.serverKey, '--tls-client-ca', pki.paths.caCert],
      });
      processes.push(server);
      expect(server.log()).to.match(/listening address=127\.0\.0\.1:\d+ .*tls=mutual/);

      const refused = await runChat(['--server', server.target, '--user', 'alice', '--ca', pki.paths.caCert], '/TIME\n');
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.include('--tls-cert');

      const admitted = await runChat(
        ['--server', server.target, '--user', 'alice', '--ca', pki.paths.caCert, '--tls-cert', pki.paths.clientCert, '--tls-key', pki.paths.clientKey],
        '/TIME\n',
      );
      expect(admitted.code, admitted.stderr).to.equal(0);
      expect(admitted.stdout).to.include('server time');
    });

    it('warns plaintext-on-network when it listens plaintext on a non-loopback address', async () => {
      // Binding 0.0.0.0 sends nothing off the machine; the test talks to it on 127.0.0.1.
      const server = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db'), extraArgs: ['--host', '0.0.0.0'] });
      processes.push(server);
      await eventually('the warning', () => server.log().includes('plaintext-on-network'));
      const warning = server.log().split('\n').find((line) => line.includes('plaintext-on-network'))!;
      expect(warning).to.match(/ warn plaintext-on-network address=0\.0\.0\.0:\d+ /).and.include('--tls-cert');
    });

    it('does not warn when it listens plaintext on loopback, nor with TLS on a non-loopback address', async () => {
      const loopback = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db') });
      const tls = await startServerProcess({
        dbPath: join(makeTempDir(), 'chat.db'),
        extraArgs: ['--host', '0.0.0.0', '--tls-cert', pki.paths.serverCert, '--tls-key', pki.paths.serverKey],
      });
      processes.push(loopback, tls);
      // A login logged after start-up shows that whatever start-up logged has arrived.
      const alice = new WireClient(loopback.target);
      wireClients.push(alice);
      await alice.login('alice');
      await eventually('the login line', () => loopback.log().includes('login user=alice'));
      const bob = connection(tls.target, 'bob', { ca: pki.pem.caCert });
      await bob.connect();
      await eventually('the login line', () => tls.log().includes('login user=bob'));
      expect(loopback.log()).to.not.include('plaintext-on-network');
      expect(tls.log()).to.not.include('plaintext-on-network');
    });
  });
});
