/**
 * The V8 heap in use of a TinyChat server started with its metrics
 * endpoint (`nodejs_heap_size_used_bytes`, from prom-client's process
 * metrics). RSS counts the pages the heap keeps after a collection; this
 * counts only what is alive, so the two together tell a leak from a heap
 * that has simply not given its pages back.
 */
export async function readHeapUsed(metricsUrl: string): Promise<number> {
  const response = await fetch(metricsUrl);
  if (response.status !== 200) throw new Error(`GET ${metricsUrl} answered ${response.status}`);
  const line = (await response.text()).split('\n').find((l) => l.startsWith('nodejs_heap_size_used_bytes '));
  if (!line) throw new Error(`${metricsUrl} has no nodejs_heap_size_used_bytes`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}
