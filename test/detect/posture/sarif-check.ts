/**
 * Structural check of a SARIF 2.1.0 log against the schema's required properties and types, for
 * the parts Vigie emits (no network: the schema's rules written out for those definitions).
 */
type J = Record<string, unknown>;

const LEVELS = ['none', 'note', 'warning', 'error'];

export function checkSarif(log: unknown): string[] {
  const errs: string[] = [];
  const at = (p: string, m: string): void => void errs.push(`${p}: ${m}`);
  const isObj = (v: unknown): v is J => typeof v === 'object' && v !== null && !Array.isArray(v);
  const str = (v: unknown, p: string, required = false): void => {
    if (v === undefined) {
      if (required) at(p, 'required string missing');
    } else if (typeof v !== 'string') at(p, 'must be a string');
  };
  const int = (v: unknown, p: string, min: number): void => {
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) at(p, `must be an integer >= ${min}`);
  };
  const message = (v: unknown, p: string, required = true): void => {
    if (v === undefined) {
      if (required) at(p, 'required message missing');
      return;
    }
    if (!isObj(v)) return at(p, 'must be an object');
    if (v.text === undefined && v.id === undefined) at(p, 'message needs text or id');
    str(v.text, `${p}.text`);
    str(v.markdown, `${p}.markdown`);
  };
  const mfms = (v: unknown, p: string): void => {
    if (v === undefined) return;
    if (!isObj(v)) return at(p, 'must be an object');
    str(v.text, `${p}.text`, true);
    str(v.markdown, `${p}.markdown`);
  };
  const props = (v: unknown, p: string): void => {
    if (v === undefined) return;
    if (!isObj(v)) return at(p, 'property bag must be an object');
    if (v.tags !== undefined) {
      if (!Array.isArray(v.tags) || v.tags.some((t) => typeof t !== 'string'))
        at(`${p}.tags`, 'must be an array of strings');
      else if (new Set(v.tags).size !== v.tags.length) at(`${p}.tags`, 'items must be unique');
    }
  };
  const physical = (v: unknown, p: string): void => {
    if (!isObj(v)) return at(p, 'must be an object');
    if (v.artifactLocation === undefined && v.address === undefined)
      at(p, 'needs artifactLocation or address');
    if (v.artifactLocation !== undefined) {
      if (!isObj(v.artifactLocation)) at(`${p}.artifactLocation`, 'must be an object');
      else str(v.artifactLocation.uri, `${p}.artifactLocation.uri`);
    }
    if (v.region !== undefined) {
      if (!isObj(v.region)) at(`${p}.region`, 'must be an object');
      else {
        const r = v.region;
        int(r.startLine, `${p}.region.startLine`, 1);
        int(r.startColumn, `${p}.region.startColumn`, 1);
        int(r.endLine, `${p}.region.endLine`, 1);
        int(r.endColumn, `${p}.region.endColumn`, 1);
        // A text region does not end before it starts (endColumn is exclusive: equal is empty).
        const n = (x: unknown): number | undefined => (typeof x === 'number' ? x : undefined);
        const [sl, sc, el, ec] = [n(r.startLine), n(r.startColumn), n(r.endLine), n(r.endColumn)];
        if ((el !== undefined || ec !== undefined) && sl === undefined)
          at(`${p}.region`, 'endLine/endColumn without startLine');
        if (sl !== undefined && el !== undefined && el < sl) at(`${p}.region.endLine`, 'before startLine');
        if (sl !== undefined && (el ?? sl) === sl && sc !== undefined && ec !== undefined && ec < sc)
          at(`${p}.region.endColumn`, 'before startColumn on the same line');
      }
    }
  };
  const location = (v: unknown, p: string): void => {
    if (!isObj(v)) return at(p, 'must be an object');
    if (v.physicalLocation !== undefined) physical(v.physicalLocation, `${p}.physicalLocation`);
    if (v.logicalLocations !== undefined) {
      if (!Array.isArray(v.logicalLocations)) at(`${p}.logicalLocations`, 'must be an array');
      else
        v.logicalLocations.forEach((l, i) => {
          if (!isObj(l)) return at(`${p}.logicalLocations[${i}]`, 'must be an object');
          for (const k of ['name', 'fullyQualifiedName', 'decoratedName', 'kind'])
            str(l[k], `${p}.logicalLocations[${i}].${k}`);
        });
    }
  };

  if (!isObj(log)) return ['log: must be an object'];
  if (log.version !== '2.1.0') at('version', 'must be "2.1.0"');
  str(log.$schema, '$schema');
  if (!Array.isArray(log.runs)) return [...errs, 'runs: required array missing'];
  log.runs.forEach((run, ri) => {
    const rp = `runs[${ri}]`;
    if (!isObj(run)) return at(rp, 'must be an object');
    if (!isObj(run.tool)) return at(`${rp}.tool`, 'required object missing');
    const driver = run.tool.driver;
    if (!isObj(driver)) return at(`${rp}.tool.driver`, 'required object missing');
    if (
      run.columnKind !== undefined &&
      !['utf16CodeUnits', 'unicodeCodePoints'].includes(String(run.columnKind))
    )
      at(`${rp}.columnKind`, 'must be utf16CodeUnits or unicodeCodePoints');
    str(driver.name, `${rp}.tool.driver.name`, true);
    str(driver.version, `${rp}.tool.driver.version`);
    str(driver.informationUri, `${rp}.tool.driver.informationUri`);
    const rules = driver.rules ?? [];
    if (!Array.isArray(rules)) at(`${rp}.tool.driver.rules`, 'must be an array');
    const ids = new Set<string>();
    (Array.isArray(rules) ? rules : []).forEach((r, i) => {
      const p = `${rp}.tool.driver.rules[${i}]`;
      if (!isObj(r)) return at(p, 'must be an object');
      str(r.id, `${p}.id`, true);
      ids.add(String(r.id));
      str(r.name, `${p}.name`);
      mfms(r.shortDescription, `${p}.shortDescription`);
      mfms(r.fullDescription, `${p}.fullDescription`);
      mfms(r.help, `${p}.help`);
      if (r.defaultConfiguration !== undefined) {
        if (!isObj(r.defaultConfiguration)) at(`${p}.defaultConfiguration`, 'must be an object');
        else if (
          r.defaultConfiguration.level !== undefined &&
          !LEVELS.includes(String(r.defaultConfiguration.level))
        )
          at(`${p}.defaultConfiguration.level`, 'bad level');
      }
      props(r.properties, `${p}.properties`);
    });
    if (run.invocations !== undefined) {
      if (!Array.isArray(run.invocations)) at(`${rp}.invocations`, 'must be an array');
      else
        run.invocations.forEach((inv, i) => {
          const p = `${rp}.invocations[${i}]`;
          if (!isObj(inv)) return at(p, 'must be an object');
          if (typeof inv.executionSuccessful !== 'boolean')
            at(`${p}.executionSuccessful`, 'required boolean missing');
          const notes = inv.toolExecutionNotifications ?? [];
          if (!Array.isArray(notes)) return at(`${p}.toolExecutionNotifications`, 'must be an array');
          notes.forEach((n, j) => {
            const np = `${p}.toolExecutionNotifications[${j}]`;
            if (!isObj(n)) return at(np, 'must be an object');
            message(n.message, `${np}.message`);
            if (n.level !== undefined && !LEVELS.includes(String(n.level))) at(`${np}.level`, 'bad level');
            if (n.locations !== undefined)
              (n.locations as unknown[]).forEach((l, k) => location(l, `${np}.locations[${k}]`));
          });
        });
    }
    const results = run.results;
    if (results === undefined) return;
    if (!Array.isArray(results)) return at(`${rp}.results`, 'must be an array');
    results.forEach((r, i) => {
      const p = `${rp}.results[${i}]`;
      if (!isObj(r)) return at(p, 'must be an object');
      message(r.message, `${p}.message`);
      str(r.ruleId, `${p}.ruleId`);
      int(r.ruleIndex, `${p}.ruleIndex`, -1);
      if (
        typeof r.ruleIndex === 'number' &&
        Array.isArray(rules) &&
        (rules[r.ruleIndex] as J | undefined)?.id !== r.ruleId
      )
        at(`${p}.ruleIndex`, 'does not point at the rule named by ruleId');
      if (typeof r.ruleId === 'string' && !ids.has(r.ruleId))
        at(`${p}.ruleId`, 'names no rule of the driver');
      if (r.level !== undefined && !LEVELS.includes(String(r.level))) at(`${p}.level`, 'bad level');
      if (r.locations !== undefined) {
        if (!Array.isArray(r.locations)) at(`${p}.locations`, 'must be an array');
        else r.locations.forEach((l, j) => location(l, `${p}.locations[${j}]`));
      }
      if (r.partialFingerprints !== undefined) {
        if (
          !isObj(r.partialFingerprints) ||
          Object.values(r.partialFingerprints).some((v) => typeof v !== 'string')
        )
          at(`${p}.partialFingerprints`, 'must map to strings');
      }
      if (r.suppressions !== undefined) {
        if (!Array.isArray(r.suppressions)) at(`${p}.suppressions`, 'must be an array');
        else
          r.suppressions.forEach((s, j) => {
            const sp = `${p}.suppressions[${j}]`;
            if (!isObj(s)) return at(sp, 'must be an object');
            if (!['inSource', 'external'].includes(String(s.kind)))
              at(`${sp}.kind`, 'required, inSource or external');
            if (s.status !== undefined && !['accepted', 'underReview', 'rejected'].includes(String(s.status)))
              at(`${sp}.status`, 'bad status');
            str(s.justification, `${sp}.justification`);
          });
      }
      props(r.properties, `${p}.properties`);
    });
  });
  return errs;
}
