/**
 * `vigie scan PATH...|-` and `vigie scan --cluster`: misconfiguration scan of manifests or a live
 * cluster. Exit status: 0 clean (or below --fail-on), 1 findings at or above --fail-on, 2 usage, an
 * input that could not be read (unless --allow-unreadable), or no objects and only errors.
 */
import { Command, Option } from 'commander';
import { loadCatalogue } from '../../detect/posture/catalogue.js';
import {
  DEFAULT_KUBERNETES_VERSION,
  parseKubernetesMinor,
} from '../../detect/posture/checks/api-versions.js';
import { evaluate, type EvaluateOptions } from '../../detect/posture/engine.js';
import { loadExceptions } from '../../detect/posture/exceptions.js';
import { formatError } from '../../detect/posture/load.js';
import { locateFindings } from '../../detect/posture/locate.js';
import { MAX_INPUT_BYTES, MAX_YAML_DOCUMENT_BYTES } from '../../detect/posture/load.js';
import { failsAt, OUTPUT_FORMATS, renderChunks, type OutputFormat } from '../../detect/posture/output.js';
import { loadSettings } from '../../detect/posture/settings.js';
import { MAX_RUN_BYTES, readCluster, readPaths } from '../../detect/posture/sources.js';
import {
  parseSeverity,
  type ControlDef,
  type LoadedObject,
  type ScanError,
  type ScanResult,
} from '../../detect/posture/types.js';

interface ScanOpts {
  cluster?: boolean;
  kubeconfig?: string;
  context?: string;
  output: OutputFormat;
  failOn?: string;
  exceptions?: string;
  settings?: string;
  control?: string[];
  followLinks?: boolean;
  maxFileSize?: number;
  maxDocumentSize?: number;
  maxTotalSize?: number;
  allowUnreadable?: boolean;
  kubernetesVersion?: string;
}

/** `64M`, `512k`, `1g` or a byte count. */
function parseSize(value: string): number {
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(value.trim());
  if (!m) fail(`not a size: ${value} (e.g. 64M, 512k, 1G)`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}

/** Writes chunk by chunk, waiting when the pipe is full, so that the report is never one string. */
async function writeAll(chunks: Iterable<string>): Promise<void> {
  for (const c of chunks)
    if (!process.stdout.write(c)) await new Promise((resolve) => process.stdout.once('drain', resolve));
}

/**
 * Reads the inputs, evaluates them and locates the findings in the text they were read from.
 * Its own function so that the objects and texts are unreachable once it returns: the report is
 * written after it, and writing the report of a large scan is when memory peaks (a suspended
 * async function keeps its locals).
 */
async function scanInputs(
  paths: string[],
  opts: ScanOpts,
  controls: ControlDef[],
  extra: Pick<EvaluateOptions, 'exceptions' | 'settings'>,
): Promise<{ res: ScanResult; objectCount: number; unreadable: number; errors: ScanError[] }> {
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
  let unreadable = 0;
  if (paths.length > 0) {
    const r = await readPaths(paths, {
      followLinks: opts.followLinks,
      maxInputBytes: opts.maxFileSize,
      maxDocumentBytes: opts.maxDocumentSize,
      maxRunBytes: opts.maxTotalSize,
    });
    objects = objects.concat(r.objects);
    for (const e of r.errors) errors.push(e);
    unreadable = r.unreadable.length;
  }
  const res = evaluate(objects, {
    controls,
    ...extra,
    complete: !!opts.cluster && paths.length === 0,
    only: opts.control,
    errors,
  });
  // Each finding's line and column in its file, from the documents that have findings.
  locateFindings(res.findings, objects);
  return { res, objectCount: objects.length, unreadable, errors };
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
      "control inputs, JSON/YAML: Kubescape's config shape (settings.postureControlInputs, dataControlInputs) or the map itself",
    )
    .option('--control <id...>', 'only these controls')
    .option(
      '--kubernetes-version <version>',
      `Kubernetes version the objects are meant for, e.g. 1.29: API versions it no longer serves or deprecates are reported (default ${DEFAULT_KUBERNETES_VERSION}, the newest release Vigie's table describes)`,
    )
    .option('--follow-links', 'follow symbolic links that lead out of the given paths')
    .option(
      '--max-file-size <size>',
      `refuse a file (or stdin) larger than this (default ${MAX_INPUT_BYTES / 1024 ** 2}M)`,
      parseSize,
    )
    .option(
      '--max-document-size <size>',
      `refuse a YAML document larger than this (default ${MAX_YAML_DOCUMENT_BYTES / 1024 ** 2}M; JSON is bounded by --max-file-size)`,
      parseSize,
    )
    .option(
      '--max-total-size <size>',
      `refuse inputs once the run has read this much (default ${MAX_RUN_BYTES / 1024 ** 2}M)`,
      parseSize,
    )
    .option('--allow-unreadable', 'exit by the findings even when some inputs could not be read')
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
          settings = loadSettings(opts.settings);
        } catch (e) {
          fail(`settings ${opts.settings}: ${(e as Error).message}`);
        }
      }
      if (opts.kubernetesVersion !== undefined)
        settings = { ...settings, kubernetesVersion: [opts.kubernetesVersion] };
      const k8sVersion = settings?.kubernetesVersion?.[0];
      if (k8sVersion !== undefined && parseKubernetesMinor(k8sVersion) === undefined)
        fail(`--kubernetes-version: not a Kubernetes version: ${k8sVersion} (e.g. 1.29)`);
      const controls = loadCatalogue();
      const { res, objectCount, unreadable, errors } = await scanInputs(paths, opts, controls, {
        exceptions,
        settings,
      });
      await writeAll(
        renderChunks(
          res,
          opts.output,
          opts.control ? controls.filter((c) => opts.control?.includes(c.id)) : controls,
          { unreadableInputs: unreadable },
        ),
      );
      if (opts.output !== 'table')
        for (const e of errors) process.stderr.write(`vigie scan: ${formatError(e)}\n`);
      if (objectCount === 0 && errors.length > 0) process.exitCode = 2;
      else if (unreadable > 0 && !opts.allowUnreadable) process.exitCode = 2;
      else if (failsAt(res, threshold)) process.exitCode = 1;
    });
}
