/** Thin client of Vigie's HTTP API and live stream. The token lives in localStorage only. */
export interface Alert {
  uuid: string;
  time: string;
  rule: string;
  priority: string;
  source: string;
  hostname: string;
  output: string;
  tags: string[];
  output_fields: Record<string, unknown>;
  vigie: {
    category: string;
    detector: string;
    score?: number;
    threshold?: number;
    explanation: string;
    entities: {
      container?: { id: string; name?: string; image?: string };
      k8s?: Record<string, string | undefined>;
      workload?: string;
      process?: { pid?: number; name?: string; cmdline?: string };
    };
    mitre: { tactic: string; technique: string; name?: string }[];
    evidence: string[];
    incident?: string;
  };
}

export interface Action {
  id: string;
  action: string;
  target: { kind: string; id: string; name?: string; namespace?: string; platform: string };
  status: string;
  mode: string;
  reason: string;
  alert?: string;
  incident?: string;
  createdAt: string;
  executedAt?: string;
  expiresAt?: string;
  rolledBackAt?: string;
  verified?: boolean;
  error?: string;
  stateBefore?: unknown;
  stateAfter?: unknown;
  params?: Record<string, unknown>;
}

const TOKEN_KEY = 'vigie.token';

export function takeTokenFromUrl(): void {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}
export function setToken(t: string | null): void {
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
  const t = getToken();
  if (t) headers.authorization = `Bearer ${t}`;
  if (init.body) headers['content-type'] = 'application/json';
  const r = await fetch(path, { ...init, headers });
  const text = await r.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!r.ok) {
    const b = body as { error?: string; reasons?: string[] } | undefined;
    throw new ApiError(r.status, [b?.error ?? r.statusText, ...(b?.reasons ?? [])].join(': '));
  }
  return body as T;
}

export type StreamMessage =
  | { type: 'hello'; data: { role: string } }
  | { type: 'alert'; data: Alert }
  | { type: 'action'; data: Action }
  | { type: 'incident'; data: Record<string, unknown> };

/** Connects to the live stream and reconnects with back-off; returns a function that stops it. */
export function connectStream(
  onMessage: (m: StreamMessage) => void,
  onState: (s: 'live' | 'offline') => void,
): () => void {
  let ws: WebSocket | undefined;
  let stopped = false;
  let delay = 500;
  const open = () => {
    const t = getToken();
    if (!t || stopped) return;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${proto}://${location.host}/api/v1/stream?access_token=${encodeURIComponent(t)}`);
    ws.onopen = () => {
      delay = 500;
      onState('live');
    };
    ws.onmessage = (e) => onMessage(JSON.parse(String(e.data)) as StreamMessage);
    ws.onclose = () => {
      onState('offline');
      if (!stopped) setTimeout(open, (delay = Math.min(delay * 2, 10_000)));
    };
  };
  open();
  return () => {
    stopped = true;
    ws?.close();
  };
}
