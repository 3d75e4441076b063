import { execFile } from 'node:child_process';
import path from 'node:path';

/** The buf CLI that the @bufbuild/buf dev dependency installs. */
const BUF = path.join(path.dirname(require.resolve('@bufbuild/buf/package.json')), 'bin', 'buf');

/**
 * Runs `buf curl` over plain-text gRPC against a server at 127.0.0.1:port,
 * with the schema taken from server reflection, and resolves with its
 * stdout. Rejects with buf's stderr when it exits non-zero.
 */
export function bufCurl(port: number, args: string[], urlPath = ''): Promise<string> {
  const url = `http://127.0.0.1:${port}${urlPath}`;
  return new Promise((resolve, reject) => {
    execFile(
      BUF,
      ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args, url],
      { timeout: 15_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`buf curl ${args.join(' ')} ${url} failed: ${stderr || err.message}`));
        else resolve(stdout);
      },
    );
  });
}
