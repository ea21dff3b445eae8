/**
 * `vigie baseline status|accept|export|import|reset [WORKLOAD] --db F`: the learned workload baselines
 * kept in the store. A running `vigie run` keeps its own copy in memory and saves it every few seconds:
 * reset or import while it runs, and the running process will write its copy back; stop it first.
 * An acceptance is recorded in the store and a running `vigie run` on it applies it too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BaselineManager } from '../../detect/anomaly/baseline/manager.js';
import { defaultBaselineConfig } from '../../detect/anomaly/baseline/config.js';
import { BaselineStore, parseBaselineFile } from '../../detect/anomaly/baseline/store.js';
import type { WorkloadStatus } from '../../detect/anomaly/baseline/workload.js';
import { defaultDbPath, openStore } from '../../infra/db.js';

function open(db: string): { mgr: BaselineManager; close: () => void } {
  const handle = openStore(db);
  return {
    mgr: new BaselineManager(defaultBaselineConfig, new BaselineStore(handle)),
    close: () => handle.close(),
  };
}

/** Two lines: the workload and why it is in its state; then its sizes. */
function statusLine(s: WorkloadStatus): string {
  return (
    `${s.workload}  ${s.reason}\n` +
    `    events=${s.learnedEvents} learned=${s.learnedSec}s windows=${s.windowsKept}` +
    `(-${s.windowsDiscarded}) binaries=${s.binaries} ngrams=${s.ngrams}${s.syscallsConverged ? '' : '(converging)'} peers=${s.peers} ports=${s.connectPorts}` +
    ` listen=${s.listenPorts} dirs=${s.fileDirs} samples=${s.resourceSamples} mem=${(s.memoryBytes / 1024).toFixed(0)}KiB` +
    `${s.readyAt ? ` ready=${s.readyAt}` : ''}${s.lastEventAt ? ` last=${s.lastEventAt}` : ''}`
  );
}

export function register(program: Command): void {
  const bl = program
    .command('baseline')
    .description('Learned workload baselines: status, accept, export, import, reset');

  bl.command('status')
    .argument('[workload]', 'one workload key (docker:IMAGE|COMMAND or k8s:NS/WORKLOAD)')
    .description('Lifecycle state of each workload baseline, why it is in it, and its size')
    .option('--db <file>', 'SQLite store', defaultDbPath())
    .option('--output <fmt>', 'text | json', 'text')
    .action((workload: string | undefined, o: { db: string; output: string }) => {
      const { mgr, close } = open(o.db);
      try {
        const list = mgr.list().filter((s) => workload === undefined || s.workload === workload);
        if (workload !== undefined && list.length === 0)
          throw new Error(`no baseline for workload ${workload} in ${o.db}`);
        for (const s of list)
          process.stdout.write((o.output === 'json' ? JSON.stringify(s) : statusLine(s)) + '\n');
        if (list.length === 0 && o.output !== 'json')
          process.stdout.write(`no workload baseline in ${o.db}\n`);
      } finally {
        close();
      }
    });

  bl.command('accept')
    .argument('<workload>', 'the workload whose current behaviour is accepted as normal')
    .description(
      'Accept a workload as it now behaves (after a new release): its baseline relearns on top of what it knows',
    )
    .option('--db <file>', 'SQLite store', defaultDbPath())
    .action((workload: string, o: { db: string }) => {
      const { mgr, close } = open(o.db);
      try {
        const before = mgr.workloads.get(workload)?.state;
        const r = mgr.accept(workload);
        if (r === undefined) throw new Error(`no baseline for workload ${workload} in ${o.db}`);
        process.stdout.write(
          r === 'learning'
            ? `accepted ${workload}: it is still learning, and goes on\n`
            : `accepted ${workload}: ${before} → learning on top of what it knows (a running vigie on ${o.db} applies it at its next save)\n`,
        );
      } finally {
        close();
      }
    });

  bl.command('export')
    .argument('[workload]', 'one workload key; all when omitted')
    .description('Write baselines as JSON (n-grams as system-call names) to stdout or --out')
    .option('--db <file>', 'SQLite store', defaultDbPath())
    .option('--out <file>', 'write to this file instead of stdout')
    .action((workload: string | undefined, o: { db: string; out?: string }) => {
      const { mgr, close } = open(o.db);
      try {
        const file = mgr.exportFile(workload);
        if (workload !== undefined && file.workloads.length === 0)
          throw new Error(`no baseline for workload ${workload} in ${o.db}`);
        const text = JSON.stringify(file, null, 1) + '\n';
        if (o.out) {
          writeFileSync(o.out, text);
          process.stderr.write(`exported ${file.workloads.length} baseline(s) to ${o.out}\n`);
        } else process.stdout.write(text);
      } finally {
        close();
      }
    });

  bl.command('import')
    .argument('<file>', 'a file written by `vigie baseline export`')
    .description('Load baselines from an export file (replaces those of the same workloads)')
    .option('--db <file>', 'SQLite store', defaultDbPath())
    .action((path: string, o: { db: string }) => {
      const file = parseBaselineFile(readFileSync(path, 'utf8'), path);
      const { mgr, close } = open(o.db);
      try {
        const n = mgr.importFile(file);
        process.stdout.write(
          `imported ${n} baseline(s) into ${o.db}: ${file.workloads.map((w) => `${w.workload} (${w.state})`).join(', ')}\n`,
        );
      } finally {
        close();
      }
    });

  bl.command('reset')
    .argument('[workload]', 'the workload to forget')
    .description('Forget a workload baseline (or all with --all); it relearns from its next event')
    .option('--db <file>', 'SQLite store', defaultDbPath())
    .option('--all', 'forget every workload baseline')
    .action((workload: string | undefined, o: { db: string; all?: boolean }) => {
      if (workload === undefined && !o.all) throw new Error('reset: name a WORKLOAD or pass --all');
      const handle = openStore(o.db);
      try {
        const store = new BaselineStore(handle);
        if (workload === undefined) {
          process.stdout.write(`reset ${store.deleteAll()} baseline(s) in ${o.db}\n`);
        } else {
          if (!store.delete(workload)) throw new Error(`no baseline for workload ${workload} in ${o.db}`);
          process.stdout.write(`reset ${workload} in ${o.db}\n`);
        }
      } finally {
        handle.close();
      }
    });
}
