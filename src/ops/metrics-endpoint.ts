import { createServer, type Server } from 'node:http';
import { formatTarget } from '../rpc/server';
import { bareHost, listenError } from './port-probe';
import type { MetricsEndpoint, MetricsSource } from './metrics';


/**
 * Listens on `host:port` for Prometheus scrapes of `/metrics`. It is bound
 * before anything else starts, so a taken port is found before the database
 * is opened; until `serve` is called it answers 503.
 */
export function listenForMetrics(host: string, port: number): Promise<MetricsEndpoint> {
  let source: MetricsSource | undefined;
  const http: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (!source) {
      response.writeHead(503, { 'content-type': 'text/plain' }).end('the server is starting; scrape again in a moment\n');
      return;
    }
    const { contentType } = source;
    source.text().then(
      (text) => response.writeHead(200, { 'content-type': contentType }).end(text),
      (err: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    http.once('error', (err: NodeJS.ErrnoException) => reject(listenError(host, port, '--metrics-address', err)));
    http.listen({ host: bareHost(host), port }, () => {
      const bound = (http.address() as { port: number }).port;
      resolve({
        address: formatTarget(host, bound),
        serve: (next) => {
          source = next;
        },
        close: () =>
          new Promise<void>((done) => {
            http.close(() => done());
            http.closeAllConnections();
          }),
      });
    });
  });
}
