/**
 * Text from watched workloads (command lines, file paths, object names, rule outputs) is hostile: a
 * newline forges a second line, an ESC/CSI/OSC sequence recolours or retitles the terminal, a
 * bidirectional override reorders what a reader sees. Every human-readable output passes such text
 * through `escapeControl`, which makes those characters visible (`\n`, `\x1b`, `\u202e`) and leaves
 * everything else as it is. JSON output needs nothing: JSON.stringify escapes control characters.
 */

// C0 controls but tab, DEL, C1 controls, and the Unicode bidirectional controls.
// Not /g: a global regex keeps state (lastIndex) between calls.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\u001b': '\\x1b' };

function visible(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

export function escapeControl(s: string): string {
  return CONTROL.test(s) ? s.replace(new RegExp(CONTROL.source, 'g'), visible) : s;
}

/**
 * JSON text of a value from outside input, bounded: nesting deeper than `maxDepth` is written as
 * `"…"` and the text is cut at `maxLength` characters. JSON.stringify recurses per level, so a
 * value nested thousands deep (JSON.parse accepts it) would overflow the stack.
 */
export function boundedJson(v: unknown, maxDepth = 16, maxLength = 4096): string {
  const out: string[] = [];
  let length = 0;
  const push = (s: string): boolean => {
    out.push(s);
    length += s.length;
    return length < maxLength;
  };
  const walk = (x: unknown, depth: number): boolean => {
    if (x === null || typeof x !== 'object') return push(JSON.stringify(x) ?? 'null');
    if (depth >= maxDepth) return push('"…"');
    if (Array.isArray(x)) {
      if (!push('[')) return false;
      for (let i = 0; i < x.length; i++) {
        if (i > 0 && !push(',')) return false;
        if (!walk(x[i], depth + 1)) return false;
      }
      return push(']');
    }
    if (!push('{')) return false;
    let first = true;
    for (const k of Object.keys(x)) {
      if (!first && !push(',')) return false;
      first = false;
      if (!push(`${JSON.stringify(k)}:`)) return false;
      if (!walk((x as Record<string, unknown>)[k], depth + 1)) return false;
    }
    return push('}');
  };
  walk(v, 0);
  const s = out.join('');
  return s.length <= maxLength ? s : `${s.slice(0, maxLength)}…`;
}
