/**
 * System-call names → small integers, once per process. The STIDE model stores n-grams of these ids;
 * anything persisted or exported is written back as names, because ids differ between runs.
 */
const ids = new Map<string, number>();
const names: string[] = [];

/** Id of a system-call name, assigned on first sight. */
export function syscallId(name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    id = names.length;
    names.push(name);
    ids.set(name, id);
  }
  return id;
}

export function syscallName(id: number): string {
  return names[id] ?? `#${id}`;
}

export function vocabularySize(): number {
  return names.length;
}
