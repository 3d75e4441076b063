/** One scrape of a Prometheus endpoint: each series as printed (`name{label="value"}`) → its value. */
export type Scrape = Map<string, number>;

/** Fetches `http://address/metrics` and parses the exposition text. */
export async function scrapeMetrics(address: string): Promise<Scrape> {
  const response = await fetch(`http://${address}/metrics`);
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${await response.text()}`);
  const series: Scrape = new Map();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return series;
}

/** The value of a series, failing the test when it is missing (so a misspelt name never reads as 0). */
export function value(scrape: Scrape, series: string): number {
  const found = scrape.get(series);
  if (found === undefined) throw new Error(`no series ${series} in the scrape; it has: ${[...scrape.keys()].filter((k) => k.startsWith('tinychat_')).join(', ')}`);
  return found;
}
