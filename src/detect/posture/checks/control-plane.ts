/** Control plane: API server, controller manager, scheduler and etcd flags from their static pods; kubelet settings from host data. */
import { nameOf } from '../k8s.js';
import type { Hit, K8sObject } from '../types.js';
import { list, NONE } from './helpers.js';
import type { Check } from './types.js';

function componentArgs(
  o: K8sObject,
  component: string,
): { args: string[]; paths: string[]; base: string } | undefined {
  if (o.kind !== 'Pod') return undefined;
  const cs = list(o.spec?.containers);
  for (let i = 0; i < cs.length; i++) {
    // cheap reject first (no closure, no copy): this runs on every Pod of a cluster
    if (!maybeComponent(cs[i], component)) continue;
    const found = componentContainer(o, cs[i], i, component);
    if (found) return found;
  }
  return undefined;
}

function maybeComponent(c: any, component: string): boolean {
  const first = list(c?.command)[0] ?? list(c?.args)[0];
  return (
    String(c?.name ?? '').includes(component) ||
    (typeof first === 'string' && first.includes(component)) ||
    mentions(list(c?.command), component)
  );
}

function componentContainer(
  o: K8sObject,
  c: any,
  i: number,
  component: string,
): { args: string[]; paths: string[]; base: string } | undefined {
  const cmd = [...list(c?.command), ...list(c?.args)].map(String);
  if (
    !cmd.some((x) => x === component || x.endsWith(`/${component}`) || x.startsWith(`${component} `)) &&
    !(nameOf(o).startsWith(component) && c?.name === component) &&
    !String(c?.name ?? '').startsWith(component)
  )
    return undefined;
  const args: string[] = [];
  const paths: string[] = [];
  list(c.command).forEach((a, j) => {
    for (const part of String(a).split(/\s+/)) {
      args.push(part);
      paths.push(`spec.containers[${i}].command[${j}]`);
    }
  });
  list(c.args).forEach((a, j) => {
    for (const part of String(a).split(/\s+/)) {
      args.push(part);
      paths.push(`spec.containers[${i}].args[${j}]`);
    }
  });
  return { args, paths, base: `spec.containers[${i}]` };
}

function mentions(words: any[], component: string): boolean {
  for (let i = 0; i < words.length; i++) {
    const x = words[i];
    if (typeof x === 'string' && x.includes(component)) return true;
  }
  return false;
}

function flagValue(args: string[], flag: string): { value: string | undefined; index: number } {
  for (let i = args.length - 1; i >= 0; i--) {
    const a = args[i];
    if (a === `--${flag}`)
      return { value: args[i + 1] && !args[i + 1].startsWith('--') ? args[i + 1] : 'true', index: i };
    if (a.startsWith(`--${flag}=`)) return { value: a.slice(flag.length + 3), index: i };
  }
  return { value: undefined, index: -1 };
}

/**
 * Control-plane flag rule. params: component, flag, and one of
 * require (flag must be set), equals, notEquals, includes (comma list must include), excludes, notZero.
 */
const componentFlag: Check = {
  appliesTo: ['Pod'],
  fn: (o, _ctx, params) => {
    const ca = componentArgs(o, params.component);
    if (!ca) return NONE;
    return componentFlagHits(ca, params);
  },
};

// Apart from fn, which runs on every Pod: its closure would cost an allocation on each call.
function componentFlagHits(
  ca: { args: string[]; paths: string[]; base: string },
  params: Record<string, any>,
): Hit[] {
  const { value, index } = flagValue(ca.args, params.flag);
  const at = index >= 0 ? ca.paths[index] : `${ca.base}.command`;
  const f = `--${params.flag}`;
  const bad = (why: string, fix: string): Hit[] => [
    { path: at, message: `${params.component} ${f} ${why}; ${fix}` },
  ];
  if (params.require && value === undefined) return bad('is not set', `set ${f}`);
  if (params.equals !== undefined && value !== undefined && value !== String(params.equals))
    return bad(`is ${value}`, `set ${f}=${params.equals}`);
  if (params.equals !== undefined && value === undefined && params.defaultBad)
    return bad('is not set and its default is unsafe', `set ${f}=${params.equals}`);
  if (params.notEquals !== undefined && value === String(params.notEquals))
    return bad(`is ${value}`, `set ${f} to another value`);
  if (params.includes !== undefined && !(value ?? '').split(',').includes(params.includes))
    return bad(`does not include ${params.includes}`, `add ${params.includes} to ${f}`);
  if (params.excludes !== undefined && (value ?? '').split(',').includes(params.excludes))
    return bad(`includes ${params.excludes}`, `remove ${params.excludes} from ${f}`);
  if (params.minimum !== undefined && value !== undefined && Number(value) < Number(params.minimum))
    return bad(`is ${value}, below ${params.minimum}`, `set ${f} to ${params.minimum} or more`);
  return [];
}

/** Kubelet settings from a host data object (KubeletInfo, as Kubescape's host sensor reports it). */
const kubeletSetting: Check = {
  appliesTo: ['KubeletInfo'],
  fn: (o, _ctx, params) => {
    const cmd = String(o.data?.cmdLine ?? '');
    const args = cmd.split(/\s+/).filter(Boolean);
    let cfg: Record<string, any> | undefined;
    const content = o.data?.configFile?.content;
    if (typeof content === 'string') {
      try {
        cfg = parseKubeletConfig(Buffer.from(content, 'base64').toString('utf8'));
      } catch {
        cfg = undefined;
      }
    }
    const flag = flagValue(args, params.flag).value;
    const fromCfg = cfg
      ? (params.configPath as string).split('.').reduce<any>((v, k) => (v == null ? undefined : v[k]), cfg)
      : undefined;
    const val = flag ?? (fromCfg === undefined ? undefined : String(fromCfg));
    const ok = params.expect !== undefined ? val === String(params.expect) : val !== undefined && val !== '';
    return ok
      ? []
      : [
          {
            path: flag !== undefined ? 'data.cmdLine' : 'data.configFile',
            message: `kubelet --${params.flag} is ${val ?? 'not set'}; set --${params.flag}${params.expect !== undefined ? `=${params.expect}` : ''} (or ${params.configPath}${params.expect !== undefined ? `: ${params.expect}` : ''} in the kubelet config)`,
          },
        ];
  },
};

/** Minimal YAML subset reader for the kubelet config (nested maps of scalars), avoiding a second parser dependency in the hot path. */
function parseKubeletConfig(text: string): Record<string, any> {
  const root: Record<string, any> = {};
  const stack: { indent: number; obj: Record<string, any> }[] = [{ indent: -1, obj: root }];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const indent = line.length - line.trimStart().length;
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    while (stack.length > 1 && stack[stack.length - 1].indent >= indent) stack.pop();
    const parent = stack[stack.length - 1].obj;
    if (m[2] === '') {
      const child: Record<string, any> = {};
      parent[m[1].trim()] = child;
      stack.push({ indent, obj: child });
    } else parent[m[1].trim()] = m[2].trim().replace(/^["']|["']$/g, '');
  }
  return root;
}

export const controlPlaneChecks: Readonly<Record<string, Check>> = {
  componentFlag,
  kubeletSetting,
};
