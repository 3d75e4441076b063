import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { downloadFile } from '../../src/client/file-transfer';
import { FilesChannels } from '../support/files-channel';
import { TEST_PASSWORD, WireClients } from '../support/grpc-client';
import { makeTempDir, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

/** Debian's interpreter, which has grpcio and grpc_tools. */
const PYTHON = '/usr/bin/python3';
const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCRIPT = path.join(ROOT, 'test', 'e2e', 'python', 'tinychat_send_file.py');

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { cwd: ROOT, timeout: 30_000, env }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')} failed: ${stdout} ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

describe('a file sent from a Python client built from the .proto files', function () {
  this.timeout(60_000);
  let server: TestServer;
  const wire = new WireClients(() => server.target);
  const channels = new FilesChannels();

  beforeEach(async function () {
    server = await startTestServer();
  });

  afterEach(async function () {
    wire.cancelStreams();
    channels.closeAll();
    await server.stop();
    wire.closeClients();
    removeTempDirs();
  });

  it('reaches a TypeScript client, which downloads it and checks its SHA-256', async function () {
    const stubs = makeTempDir('tinychat-python-stubs-');
    const tools = (await run(PYTHON, ['-c', 'import grpc_tools, os; print(os.path.dirname(grpc_tools.__file__))'])).trim();
    await run(PYTHON, [
      '-m',
      'grpc_tools.protoc',
      `-I${path.join(ROOT, 'proto')}`,
      `-I${path.join(tools, '_proto')}`,
      `--python_out=${stubs}`,
      `--grpc_python_out=${stubs}`,
      path.join(ROOT, 'proto', 'tinychat', 'v1', 'chat.proto'),
      path.join(ROOT, 'proto', 'tinychat', 'v1', 'files.proto'),
    ]);
    const tess = await wire.user('tess');
    const live = wire.open(tess);
    const bytes = randomBytes(400_000);
    const file = path.join(makeTempDir(), 'from-python.bin');
    writeFileSync(file, bytes);

    const output = await run(
      PYTHON,
      [SCRIPT, '--stubs', stubs, '--target', server.target, '--user', 'py', '--peer', 'tess', '--file', file],
      { ...process.env, TINYCHAT_PASSWORD: TEST_PASSWORD },
    );
    const events = output.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.map((e) => e.event)).to.deep.equal(['status', 'uploaded', 'receipt']);

    await live.until('the file message', (s) => s.messages.some((m) => m.sender === 'py'));
    const message = live.messages.find((m) => m.sender === 'py')!;
    expect(message.file).to.include({ name: 'from-python.bin', size: bytes.length });
    const saved = await downloadFile(channels.open(server.target, tess.token), message.id, message.file!, makeTempDir());
    expect(readFileSync(saved).equals(bytes)).to.equal(true);
  });
});
