import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';
import { ChatClient, type ClientFrame, type ServerFrame } from '../../src/gen/tinychat/v1/chat';

/**
 * A client that sends as fast as it can, run in a worker thread by the flood
 * test so that its own work does not slow down the server and the users it
 * measures (they share the main thread).
 */

/** What the flood test asks of the flooder. */
export interface FloodOrder {
  target: string;
  token: string;
  receiver: string;
  durationMs: number;
  bodyBytes: number;
}

/** What the flooder saw. */
export interface FloodReport {
  sent: number;
  receipts: number;
  /** Per-frame errors by gRPC status code. */
  errorsByCode: Record<number, number>;
  /** RESOURCE_EXHAUSTED errors whose message says when to try again. */
  withRetryHint: number;
  sampleRefusal: string;
  status: { code: number; details: string };
  elapsedMs: number;
}

async function flood(order: FloodOrder): Promise<FloodReport> {
  const client = new ChatClient(order.target, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${order.token}`);
  const call = client.converse(metadata);
  const report: FloodReport = { sent: 0, receipts: 0, errorsByCode: {}, withRetryHint: 0, sampleRefusal: '', status: { code: -1, details: '' }, elapsedMs: 0 };
  call.on('data', (frame: ServerFrame) => {
    report.receipts += frame.receipts.length;
    for (const error of frame.errors) {
      report.errorsByCode[error.code] = (report.errorsByCode[error.code] ?? 0) + 1;
      if (error.code === grpc.status.RESOURCE_EXHAUSTED) {
        report.sampleRefusal ||= error.message;
        if (/try again in \d/.test(error.message)) report.withRetryHint++;
      }
    }
  });
  call.on('error', () => undefined);
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  let over = false;
  void ended.then(() => (over = true));

  const body = 'f'.repeat(order.bodyBytes);
  const started = Date.now();
  while (!over && Date.now() - started < order.durationMs) {
    const frame: ClientFrame = { kind: { $case: 'send', send: { clientId: `flood-${report.sent}`, receiver: order.receiver, body, kind: 0 } } };
    report.sent++;
    if (!call.write(frame)) await Promise.race([once(call, 'drain'), ended]);
    // Let the answers in now and then; a real flooder would not bother, but it must read them
    // or the server cuts it off as a slow reader instead.
    else if (report.sent % 512 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  call.end();
  const status = await ended;
  report.status = { code: status.code, details: status.details };
  report.elapsedMs = Date.now() - started;
  client.close();
  return report;
}

if (parentPort) {
  const port = parentPort;
  void flood(workerData as FloodOrder).then((report) => port.postMessage(report));
}
