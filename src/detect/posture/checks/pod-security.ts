/**
 * Pod security checks on pod templates: privilege, escalation, users and groups, host namespaces
 * and ports, capabilities, seccomp / SELinux / AppArmor, sysctls, volume types (Pod Security
 * Standards baseline and restricted).
 */
import type { ScanContext } from '../context.js';
import type { ContainerRef, PodSpecRef } from '../k8s.js';
import type { Hit } from '../types.js';
import { containerCheck, hit, list, NONE, podCheck, psc, sc, upper } from './helpers.js';
import type { AnnotationFlags } from './memo.js';
import type { Check } from './types.js';

const privileged = containerCheck((c) => {
  const s = sc(c);
  if (s.privileged === true)
    return hit(c, 'securityContext.privileged', 'runs privileged; set securityContext.privileged to false');
  const adds = list(s.capabilities?.add);
  const i = adds.findIndex((x) => upper(x) === 'SYS_ADMIN' || upper(x) === 'ALL');
  if (i >= 0)
    return hit(
      c,
      `securityContext.capabilities.add[${i}]`,
      `adds capability ${adds[i]}, which is as much as running privileged; remove it from securityContext.capabilities.add`,
    );
  return undefined;
});

/** PodSecurityPolicies are in view and every one forbids privilege escalation (it is then defaulted off). */
function pspsForbidEscalation(ctx: ScanContext): boolean {
  const psps = ctx.of('PodSecurityPolicy');
  return psps.length > 0 && psps.every((psp) => psp.spec?.allowPrivilegeEscalation === false);
}

const allowPrivilegeEscalation = containerCheck((c, _p, _o, ctx) => {
  const s = sc(c);
  if (s.allowPrivilegeEscalation === false) return undefined;
  if (pspsForbidEscalation(ctx)) return undefined;
  return hit(
    c,
    'securityContext.allowPrivilegeEscalation',
    s.allowPrivilegeEscalation === true
      ? 'allows privilege escalation; set securityContext.allowPrivilegeEscalation to false'
      : 'does not forbid privilege escalation; set securityContext.allowPrivilegeEscalation to false',
  );
});

const readOnlyRootFilesystem = containerCheck((c) => {
  if (sc(c).readOnlyRootFilesystem === true) return undefined;
  return hit(
    c,
    'securityContext.readOnlyRootFilesystem',
    'has a writable root filesystem; set securityContext.readOnlyRootFilesystem to true and mount volumes where it writes',
  );
});

/**
 * As Kubescape's non-root-containers: each of runAsNonRoot, runAsUser and runAsGroup is the
 * container's when it sets it, else the pod's. The user may be root when runAsNonRoot is not true
 * and runAsUser is unset or 0; the group when runAsGroup is unset or 0. runAsNonRoot: true is
 * enough for the user (the kubelet refuses to start such a container as UID 0).
 */
const runAsNonRoot = containerCheck((c, p) => {
  const s = sc(c);
  const ps = psc(p);
  const nonRoot = s.runAsNonRoot !== undefined ? s.runAsNonRoot : ps.runAsNonRoot;
  const user = s.runAsUser !== undefined ? s.runAsUser : ps.runAsUser;
  const group = s.runAsGroup !== undefined ? s.runAsGroup : ps.runAsGroup;
  let out: Hit[] | undefined;
  if ((nonRoot === undefined || nonRoot === false) && (user === undefined || user === 0))
    out = [
      hit(
        c,
        s.runAsUser === 0 ? 'securityContext.runAsUser' : 'securityContext.runAsNonRoot',
        user === 0
          ? 'runs as root (runAsUser: 0); set securityContext.runAsNonRoot to true and runAsUser above 0'
          : 'may run as root (no runAsNonRoot: true, no runAsUser above 0); set securityContext.runAsNonRoot to true',
      ),
    ];
  if (group === undefined || group === 0) {
    const h = hit(
      c,
      'securityContext.runAsGroup',
      'may run with the root group (no runAsGroup above 0); set securityContext.runAsGroup above 0',
    );
    if (out) out.push(h);
    else return h;
  }
  return out;
});

const runAsUserZero = containerCheck((c, p) => {
  const s = sc(c);
  if (s.runAsUser === 0)
    return hit(c, 'securityContext.runAsUser', 'runs as UID 0 (root); set securityContext.runAsUser above 0');
  if (s.runAsUser === undefined && psc(p).runAsUser === 0)
    return {
      path: `${p.prefix}securityContext.runAsUser`,
      message: 'pod runs its containers as UID 0 (root); set securityContext.runAsUser above 0',
    };
  return undefined;
});

const HOST_NAMESPACE: Readonly<Record<string, string>> = {
  hostPID: 'PID',
  hostIPC: 'IPC',
  hostNetwork: 'network',
};

const hostNamespace = podCheck((p, _o, _c, params) => {
  let out: Hit[] | undefined;
  for (const f of (params.fields as string[]) ?? []) {
    if (p.spec[f] === true)
      (out ??= []).push({
        path: p.prefix + f,
        message: `pod shares the node's ${HOST_NAMESPACE[f] ?? f} namespace (${f}: true); remove ${f}`,
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
      (out ??= []).push(
        hit(
          c,
          `ports[${i}].hostPort`,
          `binds port ${pt.hostPort} of the node; remove hostPort and reach the pod through a Service`,
        ),
      );
  }
  return out;
});

/** A capability list as a set (upper-cased, CAP_ prefix dropped), once per list. */
function capSet(ctx: ScanContext, list: string[]): ReadonlySet<string> {
  const m = ctx.answers.capabilitySets;
  let s = m.get(list);
  if (!s) m.set(list, (s = new Set(list.map(upper))));
  return s;
}

const capabilitiesAdded = containerCheck((c, _p, _o, ctx, params) => {
  const adds = sc(c).capabilities?.add;
  if (!Array.isArray(adds) || adds.length === 0) return undefined;
  const deny = capSet(
    ctx,
    (params.list as string[] | undefined) ?? ctx.settings[params.setting ?? 'insecureCapabilities'] ?? [],
  );
  const allow = params.allow ? capSet(ctx, params.allow as string[]) : undefined;
  let out: Hit[] | undefined;
  for (let i = 0; i < adds.length; i++) {
    const cap = adds[i];
    const u = upper(cap);
    if ((allow && !allow.has(u)) || (!allow && deny.has(u)))
      (out ??= []).push(
        hit(
          c,
          `securityContext.capabilities.add[${i}]`,
          `adds capability ${cap}; remove it from securityContext.capabilities.add`,
        ),
      );
  }
  return out;
});

/** Whether a capability list names cap (upper-cased, CAP_ prefix dropped), without a mapped copy. */
function hasCap(raw: any[], cap: string): boolean {
  for (let i = 0; i < raw.length; i++) if (upper(raw[i]) === cap) return true;
  return false;
}

const dropCapability = containerCheck((c, _p, _o, _ctx, params) => {
  const caps = params.caps as string[];
  const drops = list(sc(c).capabilities?.drop);
  if (hasCap(drops, 'ALL')) {
    // Dropping ALL and adding one back leaves that one (Kubescape's NET_RAW rule says the same).
    const adds = list(sc(c).capabilities?.add);
    if (adds.length === 0) return undefined;
    const back = caps.filter((x) => x !== 'ALL' && hasCap(adds, x));
    return back.length === 0
      ? undefined
      : hit(c, 'securityContext.capabilities.add', `drops ALL but adds ${back.join(', ')} back`);
  }
  if (caps.every((x) => hasCap(drops, x))) return undefined;
  return hit(
    c,
    'securityContext.capabilities.drop',
    caps.length === 1 && caps[0] === 'ALL'
      ? 'does not drop ALL capabilities; add ALL to securityContext.capabilities.drop'
      : `does not drop ${caps.join(', ')}; add ALL (or ${caps.join(', ')}) to securityContext.capabilities.drop`,
  );
});

const NO_FLAGS: AnnotationFlags = Object.freeze({ seccomp: false, apparmor: false });
function flagsOf(p: PodSpecRef, ctx: ScanContext): AnnotationFlags {
  // Most templates carry no annotation at all: no lookup, no entry.
  for (const _ in p.annotations) return annotationFlagsOf(p, ctx);
  return NO_FLAGS;
}
function annotationFlagsOf(p: PodSpecRef, ctx: ScanContext): AnnotationFlags {
  const annotationFlags = ctx.answers.annotationFlags;
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

function hasSeccomp(p: PodSpecRef, c: ContainerRef, ctx: ScanContext): boolean {
  return sc(c).seccompProfile !== undefined || psc(p).seccompProfile !== undefined || flagsOf(p, ctx).seccomp;
}

const linuxHardening = containerCheck((c, p, _o, ctx) => {
  const s = sc(c);
  const ps = psc(p);
  // An Unconfined seccomp profile is the absence of hardening, not a profile.
  const eff = s.seccompProfile?.type ?? ps.seccompProfile?.type;
  if (hasSeccomp(p, c, ctx) && eff !== 'Unconfined') return undefined;
  if (s.seLinuxOptions !== undefined || ps.seLinuxOptions !== undefined) return undefined;
  if (s.appArmorProfile !== undefined || ps.appArmorProfile !== undefined) return undefined;
  if (flagsOf(p, ctx).apparmor) return undefined;
  if (list(s.capabilities?.drop).length > 0) return undefined;
  return hit(
    c,
    'securityContext.seccompProfile',
    'has no seccomp, SELinux or AppArmor profile and drops no capability; set securityContext.seccompProfile.type to RuntimeDefault',
  );
});

/** PSS: seccomp must be RuntimeDefault/Localhost (restricted) or at least not Unconfined (baseline). */
const seccomp = containerCheck((c, p, _o, ctx, params) => {
  const cs = sc(c).seccompProfile?.type;
  const ps = psc(p).seccompProfile?.type;
  const eff = cs ?? ps;
  if (params.level === 'set')
    return eff === undefined && !hasSeccomp(p, c, ctx)
      ? hit(
          c,
          'securityContext.seccompProfile',
          'has no seccomp profile; set securityContext.seccompProfile.type to RuntimeDefault',
        )
      : undefined;
  if (eff === 'Unconfined')
    return hit(
      c,
      cs ? 'securityContext.seccompProfile.type' : '',
      'runs with seccomp Unconfined; set securityContext.seccompProfile.type to RuntimeDefault',
    );
  if (params.level === 'restricted' && eff !== 'RuntimeDefault' && eff !== 'Localhost')
    return hit(
      c,
      'securityContext.seccompProfile.type',
      'has no RuntimeDefault or Localhost seccomp profile; set securityContext.seccompProfile.type to RuntimeDefault',
    );
  return undefined;
});

const SELINUX_TYPES: ReadonlySet<string> = new Set([
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
const seLinux = podCheck((p, _o, ctx) => {
  let out: Hit[] | undefined;
  const pf = badSeLinux(psc(p).seLinuxOptions);
  if (pf)
    out = [
      {
        path: `${p.prefix}securityContext.seLinuxOptions.${pf}`,
        message: `pod sets a custom SELinux ${pf}; remove securityContext.seLinuxOptions.${pf}`,
      },
    ];
  for (const c of ctx.memo.containersOf(p)) {
    const f = badSeLinux(sc(c).seLinuxOptions);
    if (f)
      (out ??= []).push(
        hit(
          c,
          `securityContext.seLinuxOptions.${f}`,
          `sets a custom SELinux ${f}; remove securityContext.seLinuxOptions.${f}`,
        ),
      );
  }
  return out ?? NONE;
});

const seLinuxSet = containerCheck((c, p) =>
  sc(c).seLinuxOptions === undefined && psc(p).seLinuxOptions === undefined
    ? hit(
        c,
        'securityContext.seLinuxOptions',
        'has no SELinux options; set securityContext.seLinuxOptions where the nodes run SELinux',
      )
    : undefined,
);

const procMount = containerCheck((c) => {
  const v = sc(c).procMount;
  return v !== undefined && v !== 'Default'
    ? hit(
        c,
        'securityContext.procMount',
        `unmasks /proc (procMount: ${v}); set securityContext.procMount to Default`,
      )
    : undefined;
});

const hostProcess = podCheck((p, _o, ctx) => {
  let out: Hit[] | undefined;
  if (psc(p).windowsOptions?.hostProcess === true)
    out = [
      {
        path: `${p.prefix}securityContext.windowsOptions.hostProcess`,
        message: 'pod runs as a Windows host process; remove securityContext.windowsOptions.hostProcess',
      },
    ];
  for (const c of ctx.memo.containersOf(p))
    if (sc(c).windowsOptions?.hostProcess === true)
      (out ??= []).push(
        hit(
          c,
          'securityContext.windowsOptions.hostProcess',
          'runs as a Windows host process; remove securityContext.windowsOptions.hostProcess',
        ),
      );
  return out ?? NONE;
});

const SAFE_SYSCTLS: ReadonlySet<string> = new Set([
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
        message: `pod sets the unsafe sysctl ${s.name}; remove it from securityContext.sysctls`,
      });
  }
  return out ?? NONE;
});

const appArmor = podCheck((p, _o, ctx) => {
  let out: Hit[] | undefined;
  if (flagsOf(p, ctx).apparmor)
    for (const [k, v] of Object.entries(p.annotations)) {
      if (k.startsWith('container.apparmor.security.beta.kubernetes.io/') && v === 'unconfined')
        (out ??= []).push({
          path: `${p.prefix.replace(/spec\.$/, '')}metadata.annotations[${k}]`,
          message: `container "${k.split('/')[1]}" runs AppArmor unconfined; set the annotation ${k} to runtime/default`,
        });
    }
  if (psc(p).appArmorProfile?.type === 'Unconfined')
    (out ??= []).push({
      path: `${p.prefix}securityContext.appArmorProfile.type`,
      message: 'pod runs AppArmor Unconfined; set securityContext.appArmorProfile.type to RuntimeDefault',
    });
  for (const c of ctx.memo.containersOf(p))
    if (sc(c).appArmorProfile?.type === 'Unconfined')
      (out ??= []).push(
        hit(
          c,
          'securityContext.appArmorProfile.type',
          'runs AppArmor Unconfined; set securityContext.appArmorProfile.type to RuntimeDefault',
        ),
      );
  return out ?? NONE;
});

const RESTRICTED_VOLUMES: ReadonlySet<string> = new Set([
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
          message: `volume "${v.name}" is of type ${t}, outside the restricted set; use a configMap, secret, emptyDir, projected, CSI or PersistentVolumeClaim volume`,
        });
  }
  return out ?? NONE;
});

export const podSecurityChecks: Readonly<Record<string, Check>> = {
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
};
