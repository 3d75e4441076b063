import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { expect } from 'chai';
import { TEST_PASSWORD, WireClient, type WireStream } from '../support/grpc-client';
import { makeTempDir, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';

/** Debian's interpreter, which has grpcio and grpc_tools (the one on PATH may not). */
const PYTHON = '/usr/bin/python3';
const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLIENT_SCRIPT = path.join(ROOT, 'test', 'e2e', 'python', 'tinychat_client.py');

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { cwd: ROOT, timeout: 15_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')} failed: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

/**
 * Generates the Python modules for chat.proto into dir with grpc_tools, as a
 * Python user of the contract would. The well-known types
 * (google/protobuf/timestamp.proto) come from grpc_tools' own include folder.
 */
async function generatePythonStubs(dir: string): Promise<void> {
  const grpcToolsDir = (await run(PYTHON, ['-c', 'import grpc_tools, os; print(os.path.dirname(grpc_tools.__file__))'])).trim();
  await run(PYTHON, [
    '-m',
    'grpc_tools.protoc',
    `-I${path.join(ROOT, 'proto')}`,
    `-I${path.join(grpcToolsDir, '_proto')}`,
    `--python_out=${dir}`,
    `--grpc_python_out=${dir}`,
    path.join(ROOT, 'proto', 'tinychat', 'v1', 'chat.proto'),
  ]);
}

interface ClientEvent {
  event: string;
  [field: string]: unknown;
}

describe('a Python client built from chat.proto', function () {
  let server: TestServer;
  let stubs: string;
  let tess: WireClient;
  let stream: WireStream | undefined;
  let python: ChildProcess | undefined;

  /** Runs the Python client to completion and resolves with its JSON lines and exit code. */
  function runPythonClient(args: string[]): Promise<{ events: ClientEvent[]; code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(PYTHON, [CLIENT_SCRIPT, '--stubs', stubs, ...args], {
        cwd: ROOT,
        env: { ...process.env, TINYCHAT_PASSWORD: TEST_PASSWORD },
      });
      python = child;
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => {
        python = undefined;
        const events = stdout
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as ClientEvent);
        resolve({ events, code, stderr });
      });
    });
  }

  before(async function () {
    stubs = makeTempDir('tinychat-python-stubs-');
    await generatePythonStubs(stubs);
    server = await startTestServer();
    tess = new WireClient(server.target);
  });

  afterEach(async function () {
    python?.kill('SIGKILL');
    if (stream && !stream.status) {
      stream.cancel();
      await stream.ended();
    }
  });

  after(async function () {
    tess?.close();
    await server?.stop();
    removeTempDirs();
  });

  it('exchanges messages both ways with a TypeScript client', async function () {
    const token = await tess.login('tess');
    const live = tess.converse();
    stream = live;
    live.resume();

    const pythonRun = runPythonClient(
      ['--target', server.target, '--user', 'py', '--peer', 'tess', '--body', 'hello from python', '--timeout', '10'],
    );
    // Tess answers py's message once it arrives; py waits for that answer.
    const pythonGaveUp = pythonRun.then((r) => {
      throw new Error(`the python client exited early with ${r.code}: ${JSON.stringify(r.events)} ${r.stderr}`);
    });
    await Promise.race([live.until('a message from py', (s) => s.messages.some((m) => m.sender === 'py'), 10_000), pythonGaveUp]);
    const replyId = randomUUID();
    live.send('py', 'hello from typescript', replyId);
    await live.until('the receipt of the reply', (s) => s.receipts.some((r) => r.clientId === replyId));

    const result = await pythonRun;
    expect(result.code, `python client failed: ${JSON.stringify(result.events)} ${result.stderr}`).to.equal(0);
    const byEvent = (name: string) => result.events.filter((e) => e.event === name);
    expect(byEvent('login')[0]).to.include({ user: 'py', registered: true });
    expect(JSON.stringify(result.events)).to.not.contain(token);
    const listed = (byEvent('users')[0].users as { name: string }[]).map((u) => u.name);
    expect(listed).to.include.members(['py', 'tess']);
    const receipt = byEvent('receipt')[0];
    expect(receipt).to.include({ receiver: 'tess', duplicate: false });
    expect(receipt.sequence).to.be.a('number').and.above(0);
    expect(byEvent('message')[0]).to.include({ sender: 'tess', receiver: 'py', body: 'hello from typescript' });

    const fromPython = live.messages.find((m) => m.sender === 'py')!;
    expect(fromPython).to.include({ sender: 'py', receiver: 'tess', body: 'hello from python' });
    expect(fromPython.sequence).to.equal(receipt.sequence);
    expect(live.errors).to.deep.equal([]);
  });
});
