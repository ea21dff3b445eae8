/**
 * `vigie scan PATH...|-` and `vigie scan --cluster`: misconfiguration scan of manifests or a live
 * cluster. Exit status: 0 clean (or below --fail-on), 1 findings at or above --fail-on, 2 usage or
 * unreadable input.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { parse } from 'yaml';
import { loadCatalogue } from '../../detect/posture/catalogue.js';
import { evaluate } from '../../detect/posture/engine.js';
import { loadExceptions } from '../../detect/posture/exceptions.js';
import { formatError } from '../../detect/posture/load.js';
import { failsAt, OUTPUT_FORMATS, render, type OutputFormat } from '../../detect/posture/output.js';
import { readCluster, readPaths } from '../../detect/posture/sources.js';
import { parseSeverity, type LoadedObject, type ScanError } from '../../detect/posture/types.js';

interface ScanOpts {
  cluster?: boolean;
  kubeconfig?: string;
  context?: string;
  output: OutputFormat;
  failOn?: string;
  exceptions?: string;
  settings?: string;
  control?: string[];
}

function fail(msg: string): never {
  const e = new Error(msg) as Error & { exitCode: number };
  e.exitCode = 2;
  throw e;
}

export function register(program: Command): void {
  program
    .command('scan')
    .description(
      'scan Kubernetes manifests (files, folders, - for stdin) or a live cluster for misconfigurations',
    )
    .argument('[paths...]', 'manifest files or folders (YAML, JSON, List); - reads stdin')
    .option('--cluster', 'scan the cluster of the kubeconfig instead of files')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    .addOption(
      new Option('-o, --output <format>', 'output format').choices([...OUTPUT_FORMATS]).default('table'),
    )
    .option(
      '--fail-on <severity>',
      'exit 1 when a non-excepted finding is at or above this severity (critical|high|medium|low|info)',
    )
    .option(
      '--exceptions <file>',
      'exceptions file (YAML): control/namespace/kind/name/container, reason, expires',
    )
    .option(
      '--settings <file>',
      'JSON/YAML map of control inputs (imageRepositoryAllowList, sensitiveKeyNames, ...)',
    )
    .option('--control <id...>', 'only these controls')
    .action(async (paths: string[], opts: ScanOpts) => {
      const threshold = opts.failOn
        ? (() => {
            try {
              return parseSeverity(opts.failOn);
            } catch (e) {
              return fail((e as Error).message);
            }
          })()
        : undefined;
      if (!opts.cluster && paths.length === 0) fail('scan: give manifest paths, - for stdin, or --cluster');
      let exceptions;
      try {
        exceptions = opts.exceptions ? loadExceptions(opts.exceptions) : [];
      } catch (e) {
        fail(`exceptions: ${(e as Error).message}`);
      }
      let settings: Record<string, string[]> | undefined;
      if (opts.settings) {
        try {
          const raw = parse(readFileSync(opts.settings, 'utf8'), { maxAliasCount: 100 }) as Record<
            string,
            unknown
          >;
          const inner = (raw?.postureControlInputs ?? raw) as Record<string, unknown>;
          settings = Object.fromEntries(
            Object.entries(inner).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : [String(v)]]),
          );
        } catch (e) {
          fail(`settings ${opts.settings}: ${(e as Error).message}`);
        }
      }
      let objects: LoadedObject[] = [];
      const errors: ScanError[] = [];
      if (opts.cluster) {
        try {
          const r = await readCluster({ kubeconfig: opts.kubeconfig, context: opts.context });
          objects.push(...r.objects);
          errors.push(...r.errors);
        } catch (e) {
          fail(`cluster: ${(e as Error).message}`);
        }
      }
      if (paths.length > 0) {
        const r = await readPaths(paths);
        objects = objects.concat(r.objects);
        errors.push(...r.errors);
      }
      const controls = loadCatalogue();
      const res = evaluate(objects, {
        controls,
        exceptions,
        settings,
        complete: !!opts.cluster && paths.length === 0,
        only: opts.control,
        errors,
      });
      process.stdout.write(
        render(
          res,
          opts.output,
          opts.control ? controls.filter((c) => opts.control?.includes(c.id)) : controls,
        ),
      );
      if (opts.output !== 'table')
        for (const e of errors) process.stderr.write(`vigie scan: ${formatError(e)}\n`);
      if (objects.length === 0 && errors.length > 0) process.exitCode = 2;
      else if (failsAt(res, threshold)) process.exitCode = 1;
    });
}
