/**
 * The naive baseline a template miner is measured against: mask IP addresses, hexadecimal and
 * decimal numbers with regular expressions, then group lines by the exact masked string.
 */
const IP = /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g;
const HEX = /\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b/g;
const NUMBER = /-?\b\d+(?:\.\d+)?\b/g;
const SPACES = /\s+/g;

export function naiveMask(line: string): string {
  return line.replace(IP, '<*>').replace(HEX, '<*>').replace(NUMBER, '<*>').replace(SPACES, ' ').trim();
}

/** Groups lines by their masked form; ids start at 1 in order of first appearance. */
export class NaiveMaskingParser {
  private readonly ids = new Map<string, number>();

  add(line: string): { templateId: number; template: string } {
    const template = naiveMask(line);
    let id = this.ids.get(template);
    if (id === undefined) {
      id = this.ids.size + 1;
      this.ids.set(template, id);
    }
    return { templateId: id, template };
  }

  get templates(): number {
    return this.ids.size;
  }
}
