/**
 * Normal traffic for the demo web service: a steady mix of page, JSON and health requests at a
 * fixed rate, from the host, with latency and error counts (the service's own view of its health).
 */
import http from 'node:http';

export interface TrafficStats {
  requests: number;
  ok: number;
  errors: number;
  latencyMs: number[];
}

const PATHS: readonly string[] = [
  '/',
  '/index.html',
  '/products.json',
  '/health',
  '/about.html',
  '/products.json',
  '/missing.html',
];

export class TrafficDriver {
  readonly stats: TrafficStats = { requests: 0, ok: 0, errors: 0, latencyMs: [] };
  private timer?: NodeJS.Timeout;
  private i = 0;
  private readonly agent = new http.Agent({ keepAlive: false });

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly ratePerSec = 10,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.one(), Math.max(1, Math.round(1000 / this.ratePerSec)));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.agent.destroy();
  }

  private one(): void {
    const path = PATHS[this.i++ % PATHS.length];
    this.stats.requests++;
    const t0 = performance.now();
    const req = http.get(
      { host: this.host, port: this.port, path, agent: this.agent, timeout: 2000 },
      (res) => {
        res.resume();
        res.on('end', () => {
          if ((res.statusCode ?? 500) < 500) this.stats.ok++;
          else this.stats.errors++;
          if (this.stats.latencyMs.length < 100_000) this.stats.latencyMs.push(performance.now() - t0);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => this.stats.errors++);
  }
}

/** One GET, resolving with status and body (the scripted intrusion uses it). */
export function httpGet(
  host: string,
  port: number,
  path: string,
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** Wait until the service answers. */
export async function waitHttp(host: string, port: number, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await httpGet(host, port, '/health', 1000);
      if (r.status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end)
      throw new Error(`the demo service at ${host}:${port} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
