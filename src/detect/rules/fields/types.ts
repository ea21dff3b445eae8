/**
 * Field catalogs: what a condition may name for one event source, how to read it from a VigieEvent,
 * and which of Falco's fields Vigie knows but cannot supply (a rule using one of those in its condition
 * stays inactive, reported at load, rather than evaluating on a value Vigie would have to invent).
 */
import type { VigieEvent } from '../../../model/event.js';

export type FieldType = 'string' | 'number' | 'bool' | 'ip';
/** A field value: scalar, list (list fields), or undefined when the event does not carry it. */
export type FieldValue = string | number | boolean | readonly (string | number)[] | undefined;
export type Getter = (ev: VigieEvent) => FieldValue;

export interface FieldDef {
  name: string;
  type: FieldType;
  list?: boolean;
  /** Whether `[arg]` is accepted / required. */
  arg?: 'none' | 'optional' | 'required';
  /** false: a Falco field Vigie cannot provide (listed in docs/rules.md). */
  provided: boolean;
  desc: string;
  /** Builds the extractor for a given argument; absent when not provided. */
  make?: (arg: string | undefined) => Getter;
}

export interface FieldCatalog {
  readonly source: string;
  lookup(name: string): FieldDef | undefined;
  all(): FieldDef[];
}

export class MapCatalog implements FieldCatalog {
  private readonly byName: ReadonlyMap<string, FieldDef>;
  constructor(
    readonly source: string,
    defs: readonly FieldDef[],
    /** Dynamic families such as evt.arg.NAME → (evt.arg, NAME). */
    private readonly prefixes: readonly { readonly prefix: string; readonly def: FieldDef }[] = [],
  ) {
    this.byName = new Map([
      ...defs.map((d): [string, FieldDef] => [d.name, d]),
      ...prefixes.map((p): [string, FieldDef] => [p.def.name, p.def]),
    ]);
  }
  lookup(name: string): FieldDef | undefined {
    const d = this.byName.get(name);
    if (d) return d;
    for (const p of this.prefixes) {
      if (name.startsWith(p.prefix) && name.length > p.prefix.length) {
        const suffix = name.slice(p.prefix.length);
        const base = p.def;
        return {
          ...base,
          name,
          arg: 'none',
          make: base.make ? () => base.make!(suffix) : undefined,
        };
      }
    }
    return undefined;
  }
  all(): FieldDef[] {
    return [...this.byName.values()];
  }
}

/** Fields Falco defines but Vigie's envelope does not carry, with the reason. */
export function unprovided(name: string, type: FieldType, desc: string, list = false): FieldDef {
  return { name, type, list, provided: false, desc, arg: 'optional' };
}
