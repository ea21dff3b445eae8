/** Falco-compatible rule engine: load rule files, evaluate events, build alerts. */
export {
  loadRuleFiles,
  loadRuleSources,
  RuleLoadError,
  RuleReader,
  ENGINE_VERSION,
  PROVIDED_PLUGINS,
} from './loader.js';
export type { CompiledRule, LoadOptions, LoadResult, RuleSource } from './loader.js';
export { fieldCatalogs } from './fields/catalogs.js';
export { SyscallFieldState } from './fields/syscall.js';
export { RuleEngine, alertInput, sourceOf } from './engine.js';
export type { RuleMatching } from './engine.js';
export { parseCondition } from './parser.js';
