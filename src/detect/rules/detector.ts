/**
 * The 'rules' detector: Falco rule files evaluated on live events (exec, file, network, syscall and
 * k8s audit events). Rule files come from ctx.config.rules.files only (the CLI turns its flags and
 * environment into that); an invalid configuration or a loading error stops the start.
 */
import { z } from 'zod';
import { logger } from '../../util/log.js';
import type { DetectorContext } from '../types.js';
import type { Detector } from '../types.js';
import { RuleEngine, alertInput } from './engine.js';
import { loadRuleFiles } from './loader.js';

const log = logger('rules');

const configSchema = z
  .object({
    /** Rule files, loaded in order. */
    files: z.array(z.string().min(1)),
    /** Skip rules that do not compile (one warning each) instead of stopping. */
    skipUnknown: z.boolean(),
    /** Falco's rule_matching. */
    matching: z.enum(['first', 'all']),
    /** Rule names to disable (Falco's -D). */
    disable: z.array(z.string()),
  })
  .partial()
  .strict();

export type RulesDetectorConfig = z.infer<typeof configSchema>;

/** Validates the `rules` block of the configuration; errors name the bad key. */
export function parseRulesConfig(raw: unknown): RulesDetectorConfig {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) {
    const first = r.error.issues[0];
    throw new Error(`rules detector config: ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  return r.data;
}

export function createRulesDetector(ctx: DetectorContext): Detector | undefined {
  const cfg = parseRulesConfig(ctx.config.rules);
  const files = cfg.files ?? [];
  if (files.length === 0) {
    log.info('no rule files configured (config.rules.files); rules detector off');
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
