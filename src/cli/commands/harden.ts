/**
 * `vigie harden WORKLOAD --seccomp OUT [--networkpolicy OUT]`: profiles learned from behaviour.
 * The source is the workload's ready baseline in the database, or `--from FILE` (a baseline export,
 * or a recording of system calls: JSON list, {syscalls: [...]}, {name: count}, bpftrace JSON map).
 */
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import {
  networkPolicyFromBaseline,
  seccompProfile,
  syscallsFromBaseline,
  syscallsFromRecording,
} from '../../characterize/harden.js';
import { BaselineStore, type WorkloadBaselineJSON } from '../../detect/anomaly/baseline/index.js';
import { defaultDbPath, openStore } from '../../infra/db.js';

interface Opts {
  seccomp?: string;
  networkpolicy?: string;
  from?: string;
  cgroup?: string;
  db: string;
  allowLearning?: boolean;
  namespace?: string;
  selector?: string;
}

function pickBaseline(list: WorkloadBaselineJSON[], workload: string, where: string): WorkloadBaselineJSON {
  const exact = list.find((b) => b.workload === workload);
  if (exact) return exact;
  const partial = list.filter((b) => b.workload.includes(workload));
  if (partial.length === 1) return partial[0];
  if (partial.length > 1)
    throw new Error(
      `"${workload}" matches several baselines in ${where}: ${partial.map((b) => b.workload).join(', ')}`,
    );
  throw new Error(
    `no baseline for workload "${workload}" in ${where}${
      list.length
        ? ` (known: ${list
            .map((b) => b.workload)
            .slice(0, 10)
            .join(', ')})`
        : ''
    }`,
  );
}

export function register(program: Command): void {
  program
    .command('harden <workload>')
    .description(
      "write a seccomp profile and/or a NetworkPolicy learned from a workload's observed behaviour",
    )
    .option(
      '--seccomp <file>',
      'write a Docker/OCI seccomp profile (allow what was seen, EPERM for the rest)',
    )
    .option('--networkpolicy <file>', 'write a NetworkPolicy (YAML) allowing the peers and ports seen')
    .option('--from <file>', 'a baseline export or a syscall recording instead of the database')
    .option('--cgroup <id>', 'with a bpftrace @[cgroup, id] map: the cgroup to take')
    .option('--namespace <ns>', 'NetworkPolicy namespace (default: from the workload key, else default)')
    .option('--selector <k=v,...>', 'NetworkPolicy pod selector (default: app=<workload name>)')
    .option('--allow-learning', 'accept a baseline that is not ready yet')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .action((workload: string, o: Opts) => {
      if (!o.seccomp && !o.networkpolicy)
        throw new Error('nothing to write: give --seccomp FILE and/or --networkpolicy FILE');
      let baseline: WorkloadBaselineJSON | undefined;
      let syscalls: string[];
      if (o.from) {
        const text = readFileSync(o.from, 'utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined; // bpftrace output is JSON lines, handled below
        }
        const p = parsed as
          { workloads?: WorkloadBaselineJSON[]; syscalls?: { ngrams?: string[] } } | undefined;
        if (p?.workloads) baseline = pickBaseline(p.workloads, workload, o.from);
        else if (p?.syscalls && !Array.isArray(p.syscalls)) baseline = p as WorkloadBaselineJSON;
        syscalls = baseline ? syscallsFromBaseline(baseline) : syscallsFromRecording(text, o.from, o.cgroup);
      } else {
        const db = openStore(o.db);
        try {
          baseline = pickBaseline(new BaselineStore(db).loadAll(), workload, o.db);
        } finally {
          db.close();
        }
        syscalls = syscallsFromBaseline(baseline);
      }
      if (baseline && baseline.state !== 'ready' && !o.allowLearning)
        throw new Error(
          `baseline of ${baseline.workload} is ${baseline.state}, not ready: a profile learned from it could break the workload (use --allow-learning to accept)`,
        );
      if (o.seccomp) {
        if (syscalls.length === 0)
          throw new Error(
            `no system calls recorded for ${workload}; refusing to write a profile that would block everything`,
          );
        const profile = seccompProfile(syscalls);
        writeFileSync(o.seccomp, JSON.stringify(profile, null, 2) + '\n');
        process.stderr.write(
          `wrote ${o.seccomp}: ${syscalls.length} observed system calls + ${profile.syscalls[1]?.names.length ?? 0} for the runtime; everything else fails with EPERM\n`,
        );
      }
      if (o.networkpolicy) {
        if (!baseline)
          throw new Error('--networkpolicy needs a baseline (peers and ports), not a syscall recording');
        const m = /^k8s:([^/]+)\/(.+)$/.exec(baseline.workload);
        // Docker workload keys are image|command: name the policy after the image's repository.
        const image = /^docker:([^|]+)/.exec(baseline.workload)?.[1];
        const base =
          m?.[2] ??
          (image
            ? image
                .replace(/[:@].*$/, '')
                .split('/')
                .pop()!
            : workload);
        const name =
          base
            .replace(/[^a-z0-9-]/gi, '-')
            .replace(/^-+|-+$/g, '')
            .toLowerCase()
            .slice(0, 50) || 'workload';
        const selector: Record<string, string> = {};
        for (const kv of (o.selector ?? `app=${name}`).split(',')) {
          const [k, v] = kv.split('=');
          if (!k || v === undefined) throw new Error(`--selector: expected k=v[,k=v], got "${o.selector}"`);
          selector[k.trim()] = v.trim();
        }
        const np = networkPolicyFromBaseline(baseline, {
          namespace: o.namespace ?? m?.[1] ?? 'default',
          name,
          podSelector: selector,
        });
        writeFileSync(o.networkpolicy, stringify(np));
        if (baseline.listenPorts.length === 0)
          process.stderr.write(
            `warning: no listening port was observed for ${baseline.workload}: this policy denies all ingress; check it before applying\n`,
          );
        process.stderr.write(
          `wrote ${o.networkpolicy}: ${baseline.peers.length} peers, listen ports ${baseline.listenPorts.join(',') || 'none'}\n`,
        );
      }
    });
}
