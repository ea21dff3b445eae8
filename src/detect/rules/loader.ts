/**
 * Loads Falco rule files in explicit stages, like Falco's engine, one module each:
 *
 *   read     (load/read.ts)     YAML → items with their file:line:column
 *   collect  (load/collect.ts)  lists, macros, rules; append / override; exceptions; enabled; later
 *                               definitions win; required_engine_version and required_plugin_versions
 *   compile  (load/compile.ts)  every rule's condition (macros and lists resolved) into a closure, once
 *
 * The only I/O is reading the files (loadRuleFiles); loadRuleSources works on strings.
 */
import { readFileSync } from 'node:fs';
import { fieldCatalogs } from './fields/catalogs.js';
import { SyscallFieldState } from './fields/syscall.js';
import { Collector } from './load/collect.js';
import { compileRules } from './load/compile.js';
import { RuleReader } from './load/read.js';
import { RuleLoadError, type LoadOptions, type LoadResult, type RuleSource } from './load/types.js';

export { ENGINE_VERSION, PROVIDED_PLUGINS } from './load/collect.js';
export { INDEX_FIELD } from './load/compile.js';
export { RuleReader } from './load/read.js';
export { RuleLoadError } from './load/types.js';
export type {
  CompiledRule,
  LoadOptions,
  LoadResult,
  LoadWarning,
  Position,
  RuleSource,
} from './load/types.js';

/** Loads rule sources in order: read each, collect them all, compile the rules once. */
export function loadRuleSources(sources: RuleSource[], opts: LoadOptions = {}): LoadResult {
  const reader = opts.reader ?? new RuleReader();
  const collector = new Collector();
  for (const src of sources) for (const item of reader.read(src)) collector.add(item);
  const fieldState = new SyscallFieldState();
  return { ...compileRules(collector, fieldCatalogs(fieldState), opts), fieldState };
}

/** Reads rule files from disk (the loader's only I/O) and loads them in order. */
export function loadRuleFiles(paths: string[], opts: LoadOptions = {}): LoadResult {
  const sources = paths.map((p) => {
    let content: string;
    try {
      content = readFileSync(p, 'utf8');
    } catch (e) {
      throw new RuleLoadError({ file: p, line: 0, col: 0 }, `cannot read: ${(e as Error).message}`);
    }
    return { name: p, content };
  });
  return loadRuleSources(sources, opts);
}
