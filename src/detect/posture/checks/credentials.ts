/** Credentials where they should not be: literal values in env and ConfigMaps, long-lived tokens. */
import type { ScanContext } from '../context.js';
import type { Hit } from '../types.js';
import { containerCheck, hit, list } from './helpers.js';
import { SENSITIVE_CACHE_MAX } from './memo.js';
import type { Check } from './types.js';

/** Compiled once per settings list (settings arrays are not mutated after a context is built). */
function regexes(ctx: ScanContext, list: string[]): RegExp[] {
  const cached = ctx.answers.regexes.get(list);
  if (cached) return cached;
  const out: RegExp[] = [];
  ctx.answers.regexes.set(list, out);
  for (const s of list) {
    try {
      out.push(new RegExp(s, 'i'));
    } catch {
      /* a bad pattern in the settings is ignored, not fatal */
    }
  }
  return out;
}

function lowered(ctx: ScanContext, list: string[]): string[] {
  let l = ctx.answers.lowered.get(list);
  if (!l) ctx.answers.lowered.set(list, (l = list.map((x) => x.toLowerCase())));
  return l;
}

const SECRET_FILE_PATH = /^\/[\w./-]+$/;

/**
 * Whether a key and value look like a credential. Answers kept by key and value: the same env
 * entries come back in every copy of a pod template (Deployment, ReplicaSets, Pods), and each answer
 * costs a dozen regular expressions. Bounded: the map is dropped when it fills.
 */
export function isSensitive(key: string, value: string | undefined, ctx: ScanContext): boolean {
  if (value === undefined || value === '') return false;
  const m = ctx.answers.sensitive;
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
  const allowedKeys = lowered(ctx, ctx.settings.sensitiveKeyNamesAllowed ?? []);
  if (allowedKeys.some((a) => a && k.includes(a))) return false;
  const allowedValues = regexes(ctx, ctx.settings.sensitiveValuesAllowed ?? []);
  if (allowedValues.some((r) => r.test(value))) return false;
  // A path to a mounted secret file is the recommended way, not a leak.
  if (SECRET_FILE_PATH.test(value)) return false;
  if (regexes(ctx, ctx.settings.sensitiveValues ?? []).some((r) => r.test(value))) return true;
  return lowered(ctx, ctx.settings.sensitiveKeyNames ?? []).some((n) => k.includes(n));
}

/** No replacement character (bytes that were not UTF-8) and no control character but whitespace. */
function isText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0xfffd || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d)) return false;
  }
  return true;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A ConfigMap value that is base64 text whose decoded form matches sensitiveValues (Kubescape
 * decodes ConfigMap values too). The key and value allowlists apply to the value as written.
 */
function encodedSensitive(key: string, value: string, ctx: ScanContext): boolean {
  if (value.length < 8 || !BASE64.test(value)) return false;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  // Not text once decoded (binary, or a word that merely looks like base64): nothing to read.
  if (!isText(decoded)) return false;
  const allowedKeys = lowered(ctx, ctx.settings.sensitiveKeyNamesAllowed ?? []);
  if (allowedKeys.some((a) => a && key.toLowerCase().includes(a))) return false;
  if (regexes(ctx, ctx.settings.sensitiveValuesAllowed ?? []).some((r) => r.test(value))) return false;
  return regexes(ctx, ctx.settings.sensitiveValues ?? []).some((r) => r.test(decoded));
}

const envCredentials = containerCheck((c, _p, _o, ctx, params) => {
  let out: Hit[] | undefined;
  const env = list(c.c.env);
  for (let i = 0; i < env.length; i++) {
    const e = env[i];
    if (!e || typeof e.name !== 'string') continue;
    if (params.secretRefs && e.valueFrom?.secretKeyRef) {
      (out ??= []).push(
        hit(
          c,
          `env[${i}].name`,
          `reads secret ${e.valueFrom.secretKeyRef.name} into env ${e.name}, where logs and child processes see it; mount the secret as a file instead`,
        ),
      );
      continue;
    }
    if (!params.secretRefs && typeof e.value === 'string' && isSensitive(e.name, e.value, ctx))
      (out ??= []).push(
        hit(
          c,
          `env[${i}].value`,
          `has a credential written in env ${e.name}; move it to a Secret and mount it as a file`,
        ),
      );
  }
  const envFrom = list(c.c.envFrom);
  for (let i = 0; i < envFrom.length; i++) {
    const e = envFrom[i];
    if (e?.secretRef)
      (out ??= []).push(
        hit(
          c,
          `envFrom[${i}].secretRef`,
          `imports every key of secret ${e.secretRef.name} into its environment; mount the secret as a file instead`,
        ),
      );
  }
  return out;
});

const configMapCredentials: Check = {
  appliesTo: ['ConfigMap'],
  fn: (o, ctx) => {
    const out: Hit[] = [];
    const data = o.data && typeof o.data === 'object' ? o.data : {};
    for (const [k, v] of Object.entries(data)) {
      const value = typeof v === 'string' ? v : String(v);
      if (isSensitive(k, value, ctx))
        out.push({
          path: `data[${k}]`,
          message: `ConfigMap key ${k} holds a credential that any reader of ConfigMaps sees; move it to a Secret`,
        });
      else if (encodedSensitive(k, value, ctx))
        out.push({
          path: `data[${k}]`,
          message: `ConfigMap key ${k} holds a base64-encoded credential that any reader of ConfigMaps sees; move it to a Secret`,
        });
    }
    return out;
  },
};

const longLivedTokenSecret: Check = {
  appliesTo: ['Secret'],
  fn: (o) => {
    const out: Hit[] = [];
    if (
      o.type === 'kubernetes.io/service-account-token' &&
      o.metadata?.annotations?.['kubernetes.io/service-account.name']
    ) {
      out.push({
        path: 'type',
        message: `Secret holds a token that never expires for service account ${o.metadata.annotations['kubernetes.io/service-account.name']}; delete it and let pods use projected tokens`,
      });
    }
    return out;
  },
};

export const credentialChecks: Readonly<Record<string, Check>> = {
  envCredentials,
  configMapCredentials,
  longLivedTokenSecret,
};
