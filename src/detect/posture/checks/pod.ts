/** Checks on pod templates: security context, host namespaces and mounts, images, resources, env. */
import {
  containersOf,
  nameOf,
  nsOf,
  parseImage,
  parseQuantity,
  podSpecsOf,
  type ContainerRef,
  type PodSpecRef,
} from '../k8s.js';
import type { ScanContext } from '../context.js';
import type { Hit, K8sObject } from '../types.js';
import type { Check } from './types.js';
import { LazyHit, type HitFormat } from '../finding.js';

type PodFn = (p: PodSpecRef, o: K8sObject, ctx: ScanContext, params: Record<string, any>) => Hit[];
type ContainerFn = (
  c: ContainerRef,
  p: PodSpecRef,
  o: K8sObject,
  ctx: ScanContext,
  params: Record<string, any>,
) => Hit[] | Hit | undefined;

const PODSPEC = ['podspec'] as const;

/** Shared empty result: most checks pass on most objects, and an array per call adds up. */
const NONE: Hit[] = [];

function podCheck(fn: PodFn): Check {
  return {
    appliesTo: PODSPEC,
    fn: (o, ctx, params) => {
      const specs = podSpecsOf(o);
      if (specs.length === 1) return fn(specs[0], o, ctx, params);
      let out: Hit[] | undefined;
      for (let i = 0; i < specs.length; i++) {
        const r = fn(specs[i], o, ctx, params);
        if (r.length > 0) out = append(out, r);
      }
      return out ?? NONE;
    },
  };
}

/** out + hits, reusing whichever list exists (lists returned by a check belong to the caller). */
function append(out: Hit[] | undefined, r: Hit[]): Hit[] {
  if (out === undefined) return r;
  for (let i = 0; i < r.length; i++) out.push(r[i]);
  return out;
}

function containerCheck(fn: ContainerFn, withEphemeral = true): Check {
  return podCheck((p, o, ctx, params) => {
    let out: Hit[] | undefined;
    const cs = containersOf(p, withEphemeral);
    for (let i = 0; i < cs.length; i++) {
      const r = fn(cs[i], p, o, ctx, params);
      if (r === undefined) continue;
      if (Array.isArray(r)) {
        if (r.length > 0) out = append(out, r);
      } else if (out === undefined) out = [r];
      else out.push(r);
    }
    return out ?? NONE;
  });
}

function cname(c: ContainerRef): string {
  return String(c.c.name ?? `${c.kind}[${c.index}]`);
}

/** A container hit: strings built when read (scans make one per finding, most never printed). */
const CONTAINER_FORMAT: HitFormat = {
  path: (c: ContainerRef, rel: string) => c.path + rel,
  message: (c: ContainerRef, _rel: string, msg: string) => `container "${cname(c)}": ${msg}`,
  container: (c: ContainerRef) => cname(c),
};

function hit(c: ContainerRef, rel: string, message: string): Hit {
  return new LazyHit(CONTAINER_FORMAT, c, rel, message);
}

/** Stands in for a missing securityContext: read only, shared (one object per call added up). */
const NO_CONTEXT: Record<string, any> = Object.freeze({});
const sc = (c: ContainerRef): Record<string, any> =>
  c.c.securityContext && typeof c.c.securityContext === 'object' ? c.c.securityContext : NO_CONTEXT;
const psc = (p: PodSpecRef): Record<string, any> =>
  p.spec.securityContext && typeof p.spec.securityContext === 'object' ? p.spec.securityContext : NO_CONTEXT;
const EMPTY: any[] = Object.freeze([]) as unknown as any[];
const list = (v: unknown): any[] => (Array.isArray(v) ? v : EMPTY);
const upper = (s: unknown): string => {
  const u = String(s).toUpperCase();
  return u.startsWith('CAP_') ? u.slice(4) : u;
};

const privileged = containerCheck((c) => {
  const s = sc(c);
  if (s.privileged === true) return hit(c, 'securityContext.privileged', 'runs privileged');
  const adds = list(s.capabilities?.add);
  const i = adds.findIndex((x) => upper(x) === 'SYS_ADMIN' || upper(x) === 'ALL');
  if (i >= 0)
    return hit(
      c,
      `securityContext.capabilities.add[${i}]`,
      `adds capability ${adds[i]}, equivalent to privileged`,
    );
  return undefined;
});

const allowPrivilegeEscalation = containerCheck((c) => {
  const s = sc(c);
  if (s.allowPrivilegeEscalation === false) return undefined;
  return hit(
    c,
    'securityContext.allowPrivilegeEscalation',
    s.allowPrivilegeEscalation === true
      ? 'allows privilege escalation'
      : 'does not set allowPrivilegeEscalation: false',
  );
});

const readOnlyRootFilesystem = containerCheck((c) => {
  if (sc(c).readOnlyRootFilesystem === true) return undefined;
  return hit(c, 'securityContext.readOnlyRootFilesystem', 'root filesystem is writable');
});

function positive(v: unknown): boolean {
  return typeof v === 'number' && v > 0;
}

const runAsNonRoot = containerCheck((c, p) => {
  const s = sc(c);
  const ps = psc(p);
  let out: Hit[] | undefined;
  const userSet = s.runAsNonRoot !== undefined || s.runAsUser !== undefined;
  const userOk = userSet
    ? s.runAsNonRoot === true ||
      positive(s.runAsUser) ||
      (s.runAsNonRoot === undefined && positive(s.runAsUser))
    : ps.runAsNonRoot === true || positive(ps.runAsUser);
  const userZero = s.runAsUser === 0 || (s.runAsUser === undefined && ps.runAsUser === 0);
  if (!userOk || userZero)
    out = [
      hit(
        c,
        'securityContext.runAsNonRoot',
        'may run as root (runAsNonRoot not true and runAsUser not above 0)',
      ),
    ];
  const groupOk = s.runAsGroup !== undefined ? positive(s.runAsGroup) : positive(ps.runAsGroup);
  if (!groupOk) {
    const h = hit(c, 'securityContext.runAsGroup', 'may run with the root group (runAsGroup not above 0)');
    if (out) out.push(h);
    else return h;
  }
  return out;
});

const runAsUserZero = containerCheck((c, p) => {
  const s = sc(c);
  if (s.runAsUser === 0) return hit(c, 'securityContext.runAsUser', 'sets runAsUser 0 (root)');
  if (s.runAsUser === undefined && psc(p).runAsUser === 0)
    return { path: `${p.prefix}securityContext.runAsUser`, message: 'pod sets runAsUser 0 (root)' };
  return undefined;
});

const hostNamespace = podCheck((p, _o, _c, params) => {
  let out: Hit[] | undefined;
  for (const f of (params.fields as string[]) ?? []) {
    if (p.spec[f] === true)
      (out ??= []).push({
        path: p.prefix + f,
        message: `pod shares the host's ${f.replace(/^host/, '').toUpperCase()} namespace (${f}: true)`,
      });
  }
  return out ?? NONE;
});

const hostPort = containerCheck((c) => {
  const ports = list(c.c.ports);
  let out: Hit[] | undefined;
  for (let i = 0; i < ports.length; i++) {
    const pt = ports[i];
    if (pt && pt.hostPort)
      (out ??= []).push(hit(c, `ports[${i}].hostPort`, `binds host port ${pt.hostPort}`));
  }
  return out;
});

const capSetCache = new WeakMap<object, Set<string>>();
function capSet(list: string[]): Set<string> {
  let s = capSetCache.get(list);
  if (!s) capSetCache.set(list, (s = new Set(list.map(upper))));
  return s;
}

const capabilitiesAdded = containerCheck((c, _p, _o, ctx, params) => {
  const adds = sc(c).capabilities?.add;
  if (!Array.isArray(adds) || adds.length === 0) return undefined;
  const deny = capSet(
    (params.list as string[] | undefined) ?? ctx.settings[params.setting ?? 'insecureCapabilities'] ?? [],
  );
  const allow = params.allow ? capSet(params.allow as string[]) : undefined;
  let out: Hit[] | undefined;
  for (let i = 0; i < adds.length; i++) {
    const cap = adds[i];
    const u = upper(cap);
    if ((allow && !allow.has(u)) || (!allow && deny.has(u)))
      (out ??= []).push(hit(c, `securityContext.capabilities.add[${i}]`, `adds capability ${cap}`));
  }
  return out;
});

/** Whether a capability list names cap (upper-cased, CAP_ prefix dropped), without a mapped copy. */
function hasCap(raw: any[], cap: string): boolean {
  for (let i = 0; i < raw.length; i++) if (upper(raw[i]) === cap) return true;
  return false;
}

const dropCapability = containerCheck((c, _p, _o, _ctx, params) => {
  const drops = list(sc(c).capabilities?.drop);
  if (hasCap(drops, 'ALL')) return undefined;
  const caps = params.caps as string[];
  if (caps.every((x) => hasCap(drops, x))) return undefined;
  return hit(
    c,
    'securityContext.capabilities.drop',
    caps.length === 1 ? `does not drop ${caps[0]}` : `does not drop ${caps.join(', ')}`,
  );
});

const annotationFlags = new WeakMap<PodSpecRef, { seccomp: boolean; apparmor: boolean }>();
const NO_FLAGS = Object.freeze({ seccomp: false, apparmor: false });
function flagsOf(p: PodSpecRef): { seccomp: boolean; apparmor: boolean } {
  // Most templates carry no annotation at all: no lookup, no entry.
  for (const _ in p.annotations) return annotationFlagsOf(p);
  return NO_FLAGS;
}
function annotationFlagsOf(p: PodSpecRef): { seccomp: boolean; apparmor: boolean } {
  let f = annotationFlags.get(p);
  if (!f) {
    const keys = Object.keys(p.annotations);
    f = {
      seccomp: keys.some(
        (k) =>
          k.startsWith('seccomp.security.alpha.kubernetes.io/') ||
          k.startsWith('container.seccomp.security.alpha.kubernetes.io/'),
      ),
      apparmor: keys.some((k) => k.startsWith('container.apparmor.security.beta.kubernetes.io/')),
    };
    annotationFlags.set(p, f);
  }
  return f;
}

function hasSeccomp(p: PodSpecRef, c: ContainerRef): boolean {
  return sc(c).seccompProfile !== undefined || psc(p).seccompProfile !== undefined || flagsOf(p).seccomp;
}

const linuxHardening = containerCheck((c, p) => {
  const s = sc(c);
  const ps = psc(p);
  // An Unconfined seccomp profile is the absence of hardening, not a profile.
  const eff = s.seccompProfile?.type ?? ps.seccompProfile?.type;
  if (hasSeccomp(p, c) && eff !== 'Unconfined') return undefined;
  if (s.seLinuxOptions !== undefined || ps.seLinuxOptions !== undefined) return undefined;
  if (s.appArmorProfile !== undefined || ps.appArmorProfile !== undefined) return undefined;
  if (flagsOf(p).apparmor) return undefined;
  if (list(s.capabilities?.drop).length > 0) return undefined;
  return hit(
    c,
    'securityContext.seccompProfile',
    'has no seccomp, SELinux or AppArmor profile and drops no capability',
  );
});

/** PSS: seccomp must be RuntimeDefault/Localhost (restricted) or at least not Unconfined (baseline). */
const seccomp = containerCheck((c, p, _o, _ctx, params) => {
  const cs = sc(c).seccompProfile?.type;
  const ps = psc(p).seccompProfile?.type;
  const eff = cs ?? ps;
  if (params.level === 'set')
    return eff === undefined && !hasSeccomp(p, c)
      ? hit(c, 'securityContext.seccompProfile', 'no seccomp profile')
      : undefined;
  if (eff === 'Unconfined')
    return hit(c, cs ? 'securityContext.seccompProfile.type' : '', 'seccomp profile is Unconfined');
  if (params.level === 'restricted' && eff !== 'RuntimeDefault' && eff !== 'Localhost')
    return hit(c, 'securityContext.seccompProfile.type', 'no RuntimeDefault or Localhost seccomp profile');
  return undefined;
});

const SELINUX_TYPES = new Set([
  '',
  'container_t',
  'container_init_t',
  'container_kvm_t',
  'container_engine_t',
]);
function badSeLinux(o: any): string | undefined {
  if (!o || typeof o !== 'object') return undefined;
  if (o.type !== undefined && !SELINUX_TYPES.has(String(o.type))) return 'type';
  if (o.user !== undefined) return 'user';
  if (o.role !== undefined) return 'role';
  return undefined;
}
const seLinux = podCheck((p) => {
  let out: Hit[] | undefined;
  const pf = badSeLinux(psc(p).seLinuxOptions);
  if (pf)
    out = [{ path: `${p.prefix}securityContext.seLinuxOptions.${pf}`, message: `pod sets SELinux ${pf}` }];
  for (const c of containersOf(p)) {
    const f = badSeLinux(sc(c).seLinuxOptions);
    if (f) (out ??= []).push(hit(c, `securityContext.seLinuxOptions.${f}`, `sets SELinux ${f}`));
  }
  return out ?? NONE;
});

const seLinuxSet = containerCheck((c, p) =>
  sc(c).seLinuxOptions === undefined && psc(p).seLinuxOptions === undefined
    ? hit(c, 'securityContext.seLinuxOptions', 'no SELinux options')
    : undefined,
);

const procMount = containerCheck((c) => {
  const v = sc(c).procMount;
  return v !== undefined && v !== 'Default'
    ? hit(c, 'securityContext.procMount', `procMount is ${v}`)
    : undefined;
});

const hostProcess = podCheck((p) => {
  let out: Hit[] | undefined;
  if (psc(p).windowsOptions?.hostProcess === true)
    out = [
      {
        path: `${p.prefix}securityContext.windowsOptions.hostProcess`,
        message: 'pod runs as a Windows host process',
      },
    ];
  for (const c of containersOf(p))
    if (sc(c).windowsOptions?.hostProcess === true)
      (out ??= []).push(
        hit(c, 'securityContext.windowsOptions.hostProcess', 'runs as a Windows host process'),
      );
  return out ?? NONE;
});

const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const sysctls = podCheck((p) => {
  const all = list(psc(p).sysctls);
  let out: Hit[] | undefined;
  for (let i = 0; i < all.length; i++) {
    const s = all[i];
    if (s && !SAFE_SYSCTLS.has(String(s.name)))
      (out ??= []).push({
        path: `${p.prefix}securityContext.sysctls[${i}].name`,
        message: `sets unsafe sysctl ${s.name}`,
      });
  }
  return out ?? NONE;
});

const appArmor = podCheck((p) => {
  let out: Hit[] | undefined;
  if (flagsOf(p).apparmor)
    for (const [k, v] of Object.entries(p.annotations)) {
      if (k.startsWith('container.apparmor.security.beta.kubernetes.io/') && v === 'unconfined')
        (out ??= []).push({
          path: `${p.prefix.replace(/spec\.$/, '')}metadata.annotations[${k}]`,
          message: `AppArmor unconfined for ${k.split('/')[1]}`,
        });
    }
  if (psc(p).appArmorProfile?.type === 'Unconfined')
    (out ??= []).push({
      path: `${p.prefix}securityContext.appArmorProfile.type`,
      message: 'pod AppArmor profile is Unconfined',
    });
  for (const c of containersOf(p))
    if (sc(c).appArmorProfile?.type === 'Unconfined')
      (out ??= []).push(hit(c, 'securityContext.appArmorProfile.type', 'AppArmor profile is Unconfined'));
  return out ?? NONE;
});

const RESTRICTED_VOLUMES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const volumeTypes = podCheck((p) => {
  let out: Hit[] | undefined;
  const vols = list(p.spec.volumes);
  for (let i = 0; i < vols.length; i++) {
    const v = vols[i];
    if (!v || typeof v !== 'object') continue;
    for (const t in v)
      if (Object.prototype.hasOwnProperty.call(v, t) && t !== 'name' && !RESTRICTED_VOLUMES.has(t))
        (out ??= []).push({
          path: `${p.prefix}volumes[${i}].${t}`,
          message: `volume "${v.name}" uses type ${t}`,
        });
  }
  return out ?? NONE;
});

// ---- host paths ----

function hostPathMounts(
  p: PodSpecRef,
  match: (path: string) => boolean,
): { vi: number; vol: any; mounts: { c: ContainerRef; mi: number; m: any }[] }[] {
  const out: { vi: number; vol: any; mounts: { c: ContainerRef; mi: number; m: any }[] }[] = [];
  list(p.spec.volumes).forEach((vol, vi) => {
    const hp = vol?.hostPath?.path;
    if (typeof hp !== 'string' || !match(hp)) return;
    const mounts: { c: ContainerRef; mi: number; m: any }[] = [];
    for (const c of containersOf(p))
      list(c.c.volumeMounts).forEach((m, mi) => {
        if (m?.name === vol.name) mounts.push({ c, mi, m });
      });
    out.push({ vi, vol, mounts });
  });
  return out;
}

function normPath(s: string): string {
  return s.length > 1 ? s.replace(/\/+$/, '') : s;
}

const matcherCache = new WeakMap<object, (hp: string) => boolean>();
function hostPathMatcher(params: Record<string, any>): (hp: string) => boolean {
  let m = matcherCache.get(params);
  if (m) return m;
  const paths = (params.paths as string[] | undefined)?.map(normPath);
  const prefixes = (params.prefixes as string[] | undefined)?.map(normPath);
  const contains = params.contains as string[] | undefined;
  m = (hp: string): boolean => {
    const n = normPath(hp);
    if (contains) return contains.some((x) => hp.includes(x));
    if (paths && paths.includes(n)) return true;
    if (
      prefixes &&
      prefixes.some((x) => n === x || n.startsWith(`${x}/`) || (x.endsWith('/') && n.startsWith(x)))
    )
      return true;
    return !paths && !prefixes && !contains;
  };
  matcherCache.set(params, m);
  return m;
}

const hostPath = podCheck((p, _o, _ctx, params) => {
  const vols = p.spec.volumes;
  if (!Array.isArray(vols) || !vols.some((v) => v && v.hostPath)) return NONE;
  const match = hostPathMatcher(params);
  const out: Hit[] = [];
  for (const { vi, vol, mounts } of hostPathMounts(p, match)) {
    if (params.writableOnly) {
      for (const { c, mi, m } of mounts)
        if (m.readOnly !== true)
          out.push(hit(c, `volumeMounts[${mi}].readOnly`, `mounts host path ${vol.hostPath.path} writable`));
      continue;
    }
    out.push({
      path: `${p.prefix}volumes[${vi}]`,
      message: `mounts host path ${vol.hostPath.path}${params.what ? ` (${params.what})` : ''}`,
      container: mounts[0] ? cname(mounts[0].c) : undefined,
    });
  }
  return out;
});

// ---- resources ----

const rangeCache = new WeakMap<object, Map<string, number>>();
let lastSettings: object | undefined;
let lastRanges = new Map<string, number>();

function rangeOf(ctx: ScanContext, key: string): number {
  let m: Map<string, number> | undefined;
  if (ctx.settings === lastSettings) m = lastRanges;
  else {
    m = rangeCache.get(ctx.settings);
    if (!m) rangeCache.set(ctx.settings, (m = new Map()));
    lastSettings = ctx.settings;
    lastRanges = m;
  }
  let r = m.get(key);
  if (r === undefined) {
    const v = ctx.settings[key]?.[0];
    r = v === undefined || v === '' ? NaN : parseQuantity(v);
    m.set(key, r);
  }
  return r;
}

const RESOURCE_STRINGS: Record<string, Record<string, [string, string]>> = {
  memory: {
    limits: ['resources.limits.memory', 'no memory limit'],
    requests: ['resources.requests.memory', 'no memory request'],
  },
  cpu: {
    limits: ['resources.limits.cpu', 'no cpu limit'],
    requests: ['resources.requests.cpu', 'no cpu request'],
  },
};

const RANGE_KEYS: Record<string, Record<string, [string, string]>> = {
  memory: {
    limits: ['memory_limit_max', 'memory_limit_min'],
    requests: ['memory_request_max', 'memory_request_min'],
  },
  cpu: { limits: ['cpu_limit_max', 'cpu_limit_min'], requests: ['cpu_request_max', 'cpu_request_min'] },
};

function resourceHit(
  c: ContainerRef,
  ctx: ScanContext,
  res: string,
  which: 'limits' | 'requests',
): Hit | undefined {
  const v = c.c.resources?.[which]?.[res];
  if (v === undefined || v === null || v === '') {
    const s = RESOURCE_STRINGS[res]?.[which];
    return s ? hit(c, s[0], s[1]) : hit(c, `resources.${which}.${res}`, `no ${res} ${which}`);
  }
  const q = parseQuantity(v);
  const base = RANGE_KEYS[res]?.[which];
  const max = base ? rangeOf(ctx, base[0]) : NaN;
  const min = base ? rangeOf(ctx, base[1]) : NaN;
  if (Number.isNaN(q)) return hit(c, `resources.${which}.${res}`, `unreadable ${res} ${which}: ${v}`);
  if (!Number.isNaN(max) && q > max)
    return hit(c, `resources.${which}.${res}`, `${res} ${which} ${v} above the allowed maximum`);
  if (!Number.isNaN(min) && min > 0 && q < min)
    return hit(c, `resources.${which}.${res}`, `${res} ${which} ${v} below the allowed minimum`);
  return undefined;
}

const resources = containerCheck((c, _p, _o, ctx, params) => {
  const res: string = params.resource;
  const whichList = params.which as ('limits' | 'requests')[];
  if (whichList.length === 1) return resourceHit(c, ctx, res, whichList[0]);
  let out: Hit[] | undefined;
  for (const which of whichList) {
    const h = resourceHit(c, ctx, res, which);
    if (h) (out ??= []).push(h);
  }
  return out;
}, false);

// ---- images ----

const SHA256 = /^sha256:[a-f0-9]{64}$/;
const OTHER_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function repoPath(image: string): string {
  const r = parseImage(image);
  return `${r.registry}/${r.repository}`;
}

function prefixMatch(image: string, prefixes: string[]): boolean {
  const img = image.trim();
  const full = repoPath(img);
  return prefixes.some((x) => {
    const pre = x.replace(/\/+$/, '');
    return (
      img === pre ||
      img.startsWith(`${pre}/`) ||
      img.startsWith(`${pre}:`) ||
      img.startsWith(`${pre}@`) ||
      full === pre ||
      full.startsWith(`${pre}/`)
    );
  });
}

const imageDigest = containerCheck((c, _p, _o, ctx) => {
  const image = c.c.image;
  if (typeof image !== 'string') return undefined;
  const exempt = ctx.settings.imageDigestExemptRepositories ?? [];
  if (exempt.length > 0 && prefixMatch(image, exempt)) return undefined;
  const d = parseImage(image).digest;
  if (d !== undefined) {
    if (d.startsWith('sha256:') ? SHA256.test(d) : OTHER_DIGEST.test(d)) return undefined;
  }
  return hit(c, 'image', `image ${image} is not pinned by digest`);
});

/** floatingImageTags and "latest", once per settings list. */
const floatingCache = new WeakMap<object, Set<string>>();
const NO_TAGS: string[] = [];
function floatingTags(ctx: ScanContext): Set<string> {
  const l = ctx.settings.floatingImageTags ?? NO_TAGS;
  let f = floatingCache.get(l);
  if (!f) floatingCache.set(l, (f = new Set([...l, 'latest'])));
  return f;
}

const imageTag = containerCheck((c, _p, _o, ctx) => {
  const image = c.c.image;
  if (typeof image !== 'string') return undefined;
  const r = parseImage(image);
  if (r.digest) return undefined;
  const floating = floatingTags(ctx);
  if (r.tag === undefined) return hit(c, 'image', `image ${image} has no tag (implicitly latest)`);
  if (floating.has(r.tag)) return hit(c, 'image', `image ${image} uses the floating tag ${r.tag}`);
  return undefined;
});

function registryOf(image: string): string {
  return parseImage(image).registry;
}

const imageAllowlist = containerCheck((c, _p, _o, ctx) => {
  const allow = ctx.settings.imageRepositoryAllowList ?? [];
  const image = c.c.image;
  if (allow.length === 0 || typeof image !== 'string') return undefined;
  const full = `${registryOf(image)}/${parseImage(image).repository}`;
  const ok = allow.some(
    (a) =>
      image.startsWith(a) ||
      full.startsWith(a) ||
      registryOf(image) === a ||
      registryOf(image).endsWith(`.${a}`) ||
      registryOf(image).split(':')[0].endsWith(a),
  );
  return ok ? undefined : hit(c, 'image', `image ${image} comes from a registry outside the allowlist`);
});

const imageBlocklist = containerCheck((c, _p, _o, ctx) => {
  const deny = [...(ctx.settings.untrustedRegistries ?? []), ...(ctx.settings.publicRegistries ?? [])];
  const image = c.c.image;
  if (deny.length === 0 || typeof image !== 'string') return undefined;
  const reg = registryOf(image);
  const bad = deny.find((d) => image.startsWith(d) || reg === d);
  return bad ? hit(c, 'image', `image ${image} comes from the untrusted registry ${bad}`) : undefined;
});

const imagePullPolicy = containerCheck((c, _p, _o, ctx) => {
  const image = c.c.image;
  if (typeof image !== 'string') return undefined;
  const r = parseImage(image);
  const floating = floatingTags(ctx);
  const isFloating = !r.digest && (r.tag === undefined || floating.has(r.tag));
  if (c.c.imagePullPolicy === 'Always') return undefined;
  if (c.c.imagePullPolicy === undefined && isFloating) return undefined; // defaulted to Always
  if (!isFloating) return undefined;
  return hit(
    c,
    'imagePullPolicy',
    `image ${image} uses a floating tag with imagePullPolicy ${c.c.imagePullPolicy ?? 'IfNotPresent'}`,
  );
});

// ---- env / credentials ----

const regexCache = new WeakMap<string[], RegExp[]>();

/** Compiled once per settings list (settings arrays are not mutated after a context is built). */
export function regexes(list: string[]): RegExp[] {
  const cached = regexCache.get(list);
  if (cached) return cached;
  const out: RegExp[] = [];
  regexCache.set(list, out);
  for (const s of list) {
    try {
      out.push(new RegExp(s, 'i'));
    } catch {
      /* a bad pattern in the settings is ignored, not fatal */
    }
  }
  return out;
}

const lowerCache = new WeakMap<string[], string[]>();
function lowered(list: string[]): string[] {
  let l = lowerCache.get(list);
  if (!l) lowerCache.set(list, (l = list.map((x) => x.toLowerCase())));
  return l;
}

const SECRET_FILE_PATH = /^\/[\w./-]+$/;

/**
 * Answers by settings, then by key and value: the same env entries come back in every copy of a pod
 * template (Deployment, ReplicaSets, Pods), and each answer costs a dozen regular expressions.
 * Bounded: a settings' map is dropped when it fills.
 */
const sensitiveCache = new WeakMap<object, Map<string, boolean>>();
const SENSITIVE_CACHE_MAX = 8192;

export function isSensitive(key: string, value: string | undefined, ctx: ScanContext): boolean {
  if (value === undefined || value === '') return false;
  let m = sensitiveCache.get(ctx.settings);
  if (!m) sensitiveCache.set(ctx.settings, (m = new Map()));
  const ck = `${key}\u0000${value}`;
  let r = m.get(ck);
  if (r === undefined) {
    if (m.size >= SENSITIVE_CACHE_MAX) m.clear();
    r = sensitiveUncached(key, value, ctx);
    m.set(ck, r);
  }
  return r;
}

function sensitiveUncached(key: string, value: string, ctx: ScanContext): boolean {
  const k = key.toLowerCase();
  const allowedKeys = lowered(ctx.settings.sensitiveKeyNamesAllowed ?? []);
  if (allowedKeys.some((a) => a && k.includes(a))) return false;
  const allowedValues = regexes(ctx.settings.sensitiveValuesAllowed ?? []);
  if (allowedValues.some((r) => r.test(value))) return false;
  // A path to a mounted secret file is the recommended way, not a leak.
  if (SECRET_FILE_PATH.test(value)) return false;
  if (regexes(ctx.settings.sensitiveValues ?? []).some((r) => r.test(value))) return true;
  return lowered(ctx.settings.sensitiveKeyNames ?? []).some((n) => k.includes(n));
}

const envCredentials = containerCheck((c, _p, _o, ctx, params) => {
  let out: Hit[] | undefined;
  const env = list(c.c.env);
  for (let i = 0; i < env.length; i++) {
    const e = env[i];
    if (!e || typeof e.name !== 'string') continue;
    if (params.secretRefs && e.valueFrom?.secretKeyRef) {
      (out ??= []).push(
        hit(c, `env[${i}].name`, `reads secret ${e.valueFrom.secretKeyRef.name} into env ${e.name}`),
      );
      continue;
    }
    if (!params.secretRefs && typeof e.value === 'string' && isSensitive(e.name, e.value, ctx))
      (out ??= []).push(hit(c, `env[${i}].value`, `env ${e.name} holds a literal credential`));
  }
  const envFrom = list(c.c.envFrom);
  for (let i = 0; i < envFrom.length; i++) {
    const e = envFrom[i];
    if (e?.secretRef)
      (out ??= []).push(
        hit(c, `envFrom[${i}].secretRef`, `imports secret ${e.secretRef.name} into the environment`),
      );
  }
  return out;
});

const duplicateEnv = containerCheck((c) => {
  const env = list(c.c.env);
  if (env.length < 2) return undefined;
  let out: Hit[] | undefined;
  // Names seen so far; a linear scan beats a Set for the few entries a container has.
  for (let i = 1; i < env.length; i++) {
    const e = env[i];
    if (!e || typeof e.name !== 'string') continue;
    let dup = false;
    for (let j = 0; j < i && !dup; j++) dup = env[j]?.name === e.name;
    if (dup) (out ??= []).push(hit(c, `env[${i}].name`, `env ${e.name} defined twice`));
  }
  return out;
});

// ---- service account ----

function saName(p: PodSpecRef): string {
  return String(p.spec.serviceAccountName ?? p.spec.serviceAccount ?? 'default');
}

export function tokenMounted(p: PodSpecRef, o: K8sObject, ctx: ScanContext): boolean {
  if (p.spec.automountServiceAccountToken === false) return false;
  if (p.spec.automountServiceAccountToken === true) return true;
  const sa = ctx.serviceAccount(nsOf(o) ?? 'default', saName(p));
  return !(sa && sa.automountServiceAccountToken === false);
}

/** Found on most workloads: strings built when read. */
const TOKEN_MOUNTED_FORMAT: HitFormat = {
  path: (p: PodSpecRef) => `${p.prefix}automountServiceAccountToken`,
  message: (p: PodSpecRef) => `service account token of "${saName(p)}" is mounted into the pod`,
};

const automountToken = podCheck((p, o, ctx) => {
  if (!tokenMounted(p, o, ctx)) return NONE;
  return [new LazyHit(TOKEN_MOUNTED_FORMAT, p, undefined, undefined)];
});

const deprecatedSaField = podCheck((p) => {
  const dep = p.spec.serviceAccount;
  if (dep === undefined) return NONE;
  if (p.spec.serviceAccountName !== undefined && p.spec.serviceAccountName === dep) return NONE;
  return [
    { path: `${p.prefix}serviceAccount`, message: `uses the deprecated serviceAccount field (${dep})` },
  ];
});

/** Found on most workloads of a partial dump (its service accounts are elsewhere): lazy strings. */
const MISSING_SA_FORMAT: HitFormat = {
  path: (p: PodSpecRef) =>
    `${p.prefix}${p.spec.serviceAccountName !== undefined ? 'serviceAccountName' : 'serviceAccount'}`,
  message: (_p: PodSpecRef, o: K8sObject, name: unknown) =>
    `service account "${name}" does not exist in namespace ${nsOf(o)}`,
};

const missingSa = podCheck((p, o, ctx) => {
  const name = p.spec.serviceAccountName ?? p.spec.serviceAccount;
  if (name === undefined || name === '' || name === 'default') return NONE;
  if (ctx.serviceAccount(nsOf(o) ?? 'default', String(name))) return NONE;
  return [new LazyHit(MISSING_SA_FORMAT, p, o, name)];
});

// ---- misc workload hygiene ----

const probe = containerCheck((c, _p, _o, _ctx, params) => {
  if (c.kind !== 'containers') return undefined;
  return c.c[params.probe]
    ? undefined
    : hit(c, params.probe, params.probe === 'livenessProbe' ? 'no livenessProbe' : 'no readinessProbe');
});

const nakedPod = {
  appliesTo: ['Pod'],
  fn: (o: K8sObject): Hit[] =>
    Array.isArray(o.metadata?.ownerReferences) && o.metadata.ownerReferences.length > 0
      ? []
      : [{ path: 'metadata.ownerReferences', message: `pod ${nameOf(o)} has no controller to recreate it` }],
} satisfies Check;

const defaultNamespace: Check = {
  appliesTo: ['podspec'],
  fn: (o) =>
    nsOf(o) === 'default'
      ? [{ path: 'metadata.namespace', message: `${o.kind} runs in the default namespace` }]
      : [],
};

const SUDO = /(^|[\s/;&|])sudo(\s|$)/;
const ENTRYPOINT_FIELDS = ['command', 'args'] as const;
const sudoEntrypoint = containerCheck((c) => {
  for (const f of ENTRYPOINT_FIELDS) {
    const i = list(c.c[f]).findIndex((x) => typeof x === 'string' && SUDO.test(x));
    if (i >= 0) return hit(c, `${f}[${i}]`, 'runs sudo in its entrypoint');
  }
  return undefined;
});

const runtimeClass = podCheck((p, _o, _ctx, params) => {
  const allowed = (params.classes as string[]) ?? [];
  const rc = p.spec.runtimeClassName;
  return typeof rc === 'string' && allowed.includes(rc)
    ? []
    : [
        {
          path: `${p.prefix}runtimeClassName`,
          message: `runtime class ${rc ?? '(none)'} is not a hardened sandbox`,
        },
      ];
});

export const podChecks: Record<string, Check> = {
  privileged,
  allowPrivilegeEscalation,
  readOnlyRootFilesystem,
  runAsNonRoot,
  runAsUserZero,
  hostNamespace,
  hostPort,
  capabilitiesAdded,
  dropCapability,
  linuxHardening,
  seccomp,
  seLinux,
  procMount,
  seLinuxSet,
  hostProcess,
  sysctls,
  appArmor,
  volumeTypes,
  hostPath,
  resources,
  imageDigest,
  imageTag,
  imageAllowlist,
  imageBlocklist,
  imagePullPolicy,
  envCredentials,
  duplicateEnv,
  automountToken,
  deprecatedSaField,
  missingSa,
  probe,
  nakedPod,
  defaultNamespace,
  sudoEntrypoint,
  runtimeClass,
};
