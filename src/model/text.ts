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
