/**
 * The 'rules' detector: Falco rule files evaluated on live events (exec, file, network, syscall and
 * k8s audit events). Rule files come from ctx.config.rules.files; loading errors stop the start.
 */
import { logger } from '../../util/log.js';
import type { DetectorContext } from '../types.js';
import type { Detector } from '../types.js';
import { RuleEngine, alertInput, type RuleMatching } from './engine.js';
import { loadRuleFiles } from './loader.js';

const log = logger('rules');

export interface RulesDetectorConfig {
  files?: string[];
  skipUnknown?: boolean;
  matching?: RuleMatching;
  disable?: string[];
}

export function createRulesDetector(ctx: DetectorContext): Detector | undefined {
  const cfg = (ctx.config.rules ?? {}) as RulesDetectorConfig;
  // VIGIE_RULES (path list, ':'-separated) lets `vigie run` pick rule files without a config file.
  const files = Array.isArray(cfg.files)
    ? cfg.files
    : (process.env.VIGIE_RULES ?? '').split(':').filter(Boolean);
  if (files.length === 0) {
    log.info('no rule files configured (config.rules.files or VIGIE_RULES); rules detector off');
    return undefined;
  }
  const loaded = loadRuleFiles(files, { skipUnknown: cfg.skipUnknown, disable: cfg.disable });
  for (const w of loaded.warnings)
    log.warn(`${w.where.file}:${w.where.line}:${w.where.col}: ${w.item ? `${w.item}: ` : ''}${w.message}`);
  const engine = new RuleEngine(loaded, { ruleMatching: cfg.matching });
  const active = engine.activeRules().length;
  const inactive = loaded.rules.filter((r) => r.enabled && !r.active).length;
  log.info(
    `loaded ${loaded.rules.length} rules from ${files.length} file(s): ${active} active, ${inactive} inactive (see vigie rules check)`,
  );
  let events = 0;
  let alerts = 0;
  return {
    name: 'rules',
    kinds: ['process', 'file', 'network', 'syscall', 'k8s_audit'],
    onEvent(ev, emit) {
      events++;
      engine.evaluate(ev, (r) => {
        alerts++;
        emit(alertInput(r, ev));
      });
    },
    stats() {
      return { events, alerts, activeRules: active, inactiveRules: inactive };
    },
  };
}
