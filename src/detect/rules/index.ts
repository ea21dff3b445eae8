/** Falco-compatible rule engine: load rule files, evaluate events, build alerts. */
export {
  loadRuleFiles,
  loadRuleSources,
  RuleLoadError,
  ENGINE_VERSION,
  PROVIDED_PLUGINS,
  CATALOGS,
} from './loader.js';
export type { CompiledRule, LoadOptions, LoadResult, RuleSource } from './loader.js';
export { RuleEngine, alertInput, sourceOf } from './engine.js';
export type { RuleMatching } from './engine.js';
export { parseCondition } from './parser.js';
