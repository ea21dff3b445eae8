/**
 * Where alerts and action records are printed: human lines, or with `--output json` one JSON object
 * a line (alerts in the Falco-compatible envelope, action records as stored). Only this module and
 * model/ know the wire shape. Notices (progress, summaries) go to stderr so that stdout stays a clean
 * stream of alerts and actions.
 */
import type { Writable } from 'node:stream';
import { alertToLine, type Alert } from '../model/alert.js';
import type { ActionRecord } from '../model/action.js';
import { jsonReplacer } from '../model/event.js';
import { escapeControl } from '../model/text.js';

export type OutputFormat = 'text' | 'json';

export interface Output {
  readonly format: OutputFormat;
  alert(a: Alert): void;
  action(r: ActionRecord): void;
  /** Progress and explanations for a human; stderr. */
  notice(msg: string): void;
  /** Wait until what was written reached the stream. */
  flush(): Promise<void>;
}

export function actionToLine(r: ActionRecord): string {
  const who = r.target.name ?? r.target.id.slice(0, 12);
  const params = r.params && Object.keys(r.params).length ? ` ${JSON.stringify(r.params)}` : '';
  const verified = r.verified === undefined ? '' : r.verified ? ' (verified)' : ' (NOT verified)';
  const err = r.error ? ` error: ${r.error}` : '';
  // Target names, reasons and errors carry text from the workload: escaped so they cannot forge a line.
  return escapeControl(
    `${r.executedAt ?? r.rolledBackAt ?? r.createdAt} ACTION ${r.status} ${r.action} ${r.target.kind} ${who}${params} [${r.mode}] id=${r.id}${verified}: ${r.reason}${err}`,
  );
}

export function createOutput(
  format: OutputFormat,
  out: Writable = process.stdout,
  err: Writable = process.stderr,
): Output {
  let lastWrite: Promise<void> = Promise.resolve();
  const write = (s: string) => {
    lastWrite = new Promise<void>((resolve) => {
      if (!out.write(s, () => resolve())) out.once('drain', () => resolve());
    });
  };
  return {
    format,
    alert(a) {
      write(format === 'json' ? JSON.stringify(a, jsonReplacer) + '\n' : alertToLine(a) + '\n');
    },
    action(r) {
      if (format === 'json') return write(JSON.stringify(r, jsonReplacer) + '\n');
      // A human needs the outcome, not every step towards it (JSON keeps every status change).
      if (r.status === 'approved' || r.status === 'executing') return;
      write(actionToLine(r) + '\n');
    },
    notice(msg) {
      // A notice may span lines it wrote itself (a summary); every other control character in the text
      // it quotes is made visible.
      err.write(`${msg.split('\n').map(escapeControl).join('\n')}\n`);
    },
    flush() {
      return lastWrite;
    },
  };
}
