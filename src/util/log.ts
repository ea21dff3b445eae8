/**
 * Logging goes to stderr so that stdout stays clean for alert output (`--output json`).
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Readonly<Record<Level, number>> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Read once, when the module loads: VIGIE_LOG selects the level for the whole process. */
const threshold: Level = (process.env.VIGIE_LOG as Level) ?? 'info';

import { escapeControl } from '../model/text.js';

function write(level: Level, component: string, msg: string, extra?: Record<string, unknown>): void {
  if (order[level] < order[threshold]) return;
  const tail = extra
    ? ' ' + JSON.stringify(extra, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
    : '';
  process.stderr.write(
    // Messages quote names and errors from outside: one log record stays one line.
    `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${component}: ${escapeControl(msg)}${tail}\n`,
  );
}

export function logger(component: string) {
  return {
    debug: (m: string, e?: Record<string, unknown>) => write('debug', component, m, e),
    info: (m: string, e?: Record<string, unknown>) => write('info', component, m, e),
    warn: (m: string, e?: Record<string, unknown>) => write('warn', component, m, e),
    error: (m: string, e?: Record<string, unknown>) => write('error', component, m, e),
  };
}
