/** Markdown report of a Nezha day's evaluation (`vigie eval metrics --output md`). */
import { TRACE_ONLY, type FaultOutcome, type MetricsEvalResult } from './nezha.js';
import type { ShiftScreen } from './nezha-shift.js';

/** Markdown report: headline, trivial detectors, by type, per fault with its trace evidence. */
export function nezhaMarkdown(r: MetricsEvalResult): string {
  const L: string[] = [];
  const pct = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
  L.push(`# Perf detector on ${r.dataset}`, '');
  L.push(`Engine parameters beyond the defaults: \`${JSON.stringify(r.params)}\`.`, '');
  L.push('| detector | recall | precision | false alarms / fault-free h | top-1 | top-3 | mean delay (s) |');
  L.push('|---|---|---|---|---|---|---|');
  L.push(
    `| vigie perf | ${pct(r.recall)} (${r.detected}/${r.faults}) | ${pct(r.precision)} | ${pct(r.falseAlarmsPerHour)} (${r.falseAlarms} in ${r.faultFreeHours} h) | ${pct(r.top1)} | ${pct(r.top3)} | ${r.meanDelaySeconds ?? '—'} |`,
  );
  for (const [name, t] of Object.entries(r.trivial))
    L.push(
      `| ${name} | ${pct(t.recall)} | ${pct(t.precision)} | ${pct(t.falseAlarmsPerHour)} | ${pct(t.top1)} | ${pct(t.top3)} | — |`,
    );
  L.push(
    '',
    '## By fault type',
    '',
    '| type | faults | detected | recall | top-1 | top-3 | mean delay (s) |',
    '|---|---|---|---|---|---|---|',
  );
  for (const [type, t] of Object.entries(r.byType))
    L.push(
      `| ${type} | ${t.faults} | ${t.detected} | ${pct(t.recall)} | ${pct(t.top1)} | ${pct(t.top3)} | ${t.meanDelaySeconds ?? '—'} |`,
    );
  L.push(
    '',
    '## Per fault',
    '',
    'trace: largest robust z of the injected pod in its window / its fault-free 95th percentile of 10-minute maxima.',
    '',
  );
  L.push(
    '| inject time | service | type | detected | delay (s) | ranked | trace: cpu, memory, latencyMs | trace: requests/s, netRx, netTx, client latency, syscalls |',
    '|---|---|---|---|---|---|---|---|',
  );
  const tr = (f: FaultOutcome, ms: readonly string[]) =>
    ms.map((m) => (f.trace[m] ? `${f.trace[m].inWindow}/${f.trace[m].faultFreeP95}` : '—')).join(', ');
  for (const f of r.perFault)
    L.push(
      `| ${f.injectTime} | ${f.service} | ${f.type} | ${f.detected ? 'yes' : 'no'} | ${f.delaySeconds ?? '—'} | ${(f.ranked ?? []).join(', ')} | ${tr(f, ['cpu', 'memory', 'latencyMs'])} | ${tr(f, TRACE_ONLY)} |`,
    );
  if (r.multivariate?.length) {
    L.push(
      '',
      '## Multivariate check (isolation forest over robust z-vectors)',
      '',
      "Injected pod's highest score in its window / its fault-free 95th percentile of 10-minute maxima; rank of the pod among all pods in the window.",
      '',
      '| inject time | service | type | score in window / fault-free p95 | rank |',
      '|---|---|---|---|---|',
    );
    for (const m of r.multivariate)
      L.push(
        `| ${m.injectTime} | ${m.service} | ${m.type} | ${m.inWindow} / ${m.faultFreeP95} | ${m.rank} of ${m.pods} |`,
      );
  }
  if (r.shift) L.push(...shiftMarkdown(r.shift));
  if (r.falseAlarmList.length) {
    L.push(
      '',
      '## Alarms outside every fault window',
      '',
      '| start (UTC) | minutes | top culprit | why | in alarm (pod metric, largest z, minutes) |',
      '|---|---|---|---|---|',
    );
    for (const f of r.falseAlarmList)
      L.push(
        `| ${f.start} | ${f.minutes} | ${f.culprit ?? '—'} | ${f.why ?? ''} | ${f.alarmed.map((a) => `${a.pod} ${a.metric} ${a.maxZ} (${a.minutes})`).join('; ')} |`,
      );
  }
  return L.join('\n') + '\n';
}

function shiftMarkdown(sh: ShiftScreen): string[] {
  const P = sh.params;
  const L: string[] = [
    '',
    '## Relative-shift screen (injected pod against its own recent median)',
    '',
    `s = ln(median of minutes [inject + ${P.skip}, window end) / median of the ${P.baseline} minutes before, at least ${P.minBaseline}); flagged when outside the pod's own fault-free [${P.tail}, ${1 - P.tail}] quantiles of s. Cells: faults flagged / faults where s is defined.`,
    '',
    `| type | faults | ${sh.columns.join(' | ')} | any column |`,
    `|---|---|${sh.columns.map(() => '---|').join('')}---|`,
  ];
  for (const [type, t] of Object.entries(sh.byType))
    L.push(
      `| ${type} | ${t.faults} | ${sh.columns.map((c) => `${t.flagged[c] ?? 0}/${t.defined[c] ?? 0}`).join(' | ')} | ${t.anyColumn}/${t.faults} |`,
    );
  for (const [type, t] of Object.entries(sh.byType))
    L.push(
      `| ${type}: s below the pod's fault-free median | ${t.faults} | ${sh.columns.map((c) => `${t.below[c] ?? 0}/${t.defined[c] ?? 0}`).join(' | ')} | — |`,
    );
  L.push(
    `| fault-free rate (injected pods) | — | ${sh.columns.map((c) => sh.faultFreeRate[c].toFixed(3)).join(' | ')} | ${sh.faultFreeRate.anyColumn.toFixed(3)} |`,
  );
  L.push(
    '',
    `As an alarm over every pod: ${sh.allPods.flaggedBlocks} of ${sh.allPods.blocks} fault-free 10-minute blocks have some pod flagged in some column (${sh.allPods.falseAlarmsPerHour} false alarms per fault-free hour).`,
  );
  L.push(
    '',
    `Localization by the same statistic (largest exceedance of the pod's fault-free spread, in spread widths; mid-rank for ties, a random order averages ${((sh.perFault[0]?.pods ?? 0) + 1) / 2}): ${Object.entries(
      sh.rankByType,
    )
      .map(
        ([t, e]) =>
          `${t} mean rank ${e.meanRank} of ${sh.perFault[0]?.pods ?? 0}, first ${e.first}/${e.faults}`,
      )
      .join('; ')}.`,
  );
  const fr = Object.entries(sh.front);
  if (fr.length)
    L.push(
      '',
      `Front service latency, faults flagged: ${fr.map(([t, e]) => `${t} P50 ${e.flaggedP50}/${e.faults}, P95 ${e.flaggedP95}/${e.faults}`).join('; ')}.`,
    );
  return L;
}
