import { describe, expect, it } from 'vitest';
import { withRulesFromEnv } from '../../src/engine/compose.js';

describe('the composition root reads the environment at the edge', () => {
  it('VIGIE_RULES fills config.rules.files when none is configured, and only then', () => {
    const env = { VIGIE_RULES: '/a.yaml:/b.yaml' };
    expect(withRulesFromEnv({}, env)).toEqual({ rules: { files: ['/a.yaml', '/b.yaml'] } });
    expect(withRulesFromEnv({ rules: { matching: 'all' } }, env)).toEqual({
      rules: { matching: 'all', files: ['/a.yaml', '/b.yaml'] },
    });
    const given = { rules: { files: ['/c.yaml'] } };
    expect(withRulesFromEnv(given, env)).toBe(given);
    // A malformed value is left for the detector's validation to refuse, not silently replaced.
    const bad = { rules: { files: 'not-a-list' } };
    expect(withRulesFromEnv(bad, env)).toBe(bad);
    expect(withRulesFromEnv({}, {})).toEqual({});
  });
});
