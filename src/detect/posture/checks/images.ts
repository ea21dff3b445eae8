/** Container images: pinned by digest, no floating tag, pull policy, registry allow and deny lists. */
import type { ScanContext } from '../context.js';
import { containerCheck, hit } from './helpers.js';
import type { Check } from './types.js';

const SHA256 = /^sha256:[a-f0-9]{64}$/;
const OTHER_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function repoPath(ctx: ScanContext, image: string): string {
  const r = ctx.answers.image(image);
  return `${r.registry}/${r.repository}`;
}

function prefixMatch(ctx: ScanContext, image: string, prefixes: string[]): boolean {
  const img = image.trim();
  const full = repoPath(ctx, img);
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
  if (exempt.length > 0 && prefixMatch(ctx, image, exempt)) return undefined;
  const d = ctx.answers.image(image).digest;
  if (d !== undefined) {
    if (d.startsWith('sha256:') ? SHA256.test(d) : OTHER_DIGEST.test(d)) return undefined;
  }
  return hit(c, 'image', `runs image ${image}, not pinned by digest; reference it as image@sha256:<digest>`);
});

/** floatingImageTags and "latest", once per context. */
function floatingTags(ctx: ScanContext): ReadonlySet<string> {
  let f = ctx.answers.floatingTags;
  if (!f) ctx.answers.floatingTags = f = new Set([...(ctx.settings.floatingImageTags ?? []), 'latest']);
  return f;
}

const imageTag = containerCheck((c, _p, _o, ctx) => {
  const image = c.c.image;
  if (typeof image !== 'string') return undefined;
  const r = ctx.answers.image(image);
  if (r.digest) return undefined;
  const floating = floatingTags(ctx);
  if (r.tag === undefined)
    return hit(c, 'image', `runs image ${image} with no tag (so latest); set a version tag or a digest`);
  if (floating.has(r.tag))
    return hit(
      c,
      'image',
      `runs image ${image} with the floating tag ${r.tag}; set a version tag or a digest`,
    );
  return undefined;
});

/**
 * An allowlist entry, as Kubescape reads imageRepositoryAllowList: a prefix of the image up to a
 * "/" (or ending in one), an image without a "/" being Docker Hub's (docker.io/...). Also the
 * normalized name (docker.io/library/nginx) and, for an entry that names a domain, the registry
 * hosts under it (amazonaws.com allows 123.dkr.ecr.eu-west-1.amazonaws.com).
 */
function allowedBy(ctx: ScanContext, image: string, entry: string): boolean {
  const e = entry.trim();
  if (e === '') return false;
  const prefix = e.endsWith('/') ? e : `${e}/`;
  const img = image.trim();
  if ((img.includes('/') ? img : `docker.io/${img}`).startsWith(prefix)) return true;
  const r = ctx.answers.image(img);
  if (`${r.registry}/${r.repository}/`.startsWith(prefix)) return true;
  if (e.includes('/')) return false;
  const host = r.registry.split(':')[0];
  return host === e || host.endsWith(`.${e}`);
}

const imageAllowlist = containerCheck((c, _p, _o, ctx) => {
  const allow = ctx.settings.imageRepositoryAllowList ?? [];
  const image = c.c.image;
  if (allow.length === 0 || typeof image !== 'string') return undefined;
  return allow.some((a) => allowedBy(ctx, image, a))
    ? undefined
    : hit(
        c,
        'image',
        `runs image ${image} from a registry outside the allowlist; pull it from an allowed registry`,
      );
});

function startsWithAny(image: string, prefixes: readonly string[] | undefined): string | undefined {
  return prefixes?.find((x) => x.trim() !== '' && image.startsWith(x.trim()));
}

/**
 * As Kubescape's blocklist rule: an image that starts with an untrusted or public registry (unless
 * it also starts with an entry of the matching ...Allowlist), and an image that names no registry
 * at all, which Docker Hub, a public registry, serves.
 */
const imageBlocklist = containerCheck((c, _p, _o, ctx) => {
  const image = c.c.image;
  if (typeof image !== 'string') return undefined;
  const s = ctx.settings;
  const lists: [string[] | undefined, string[] | undefined, string][] = [
    [s.untrustedRegistries, s.untrustedRegistriesAllowlist, 'untrusted'],
    [s.publicRegistries, s.publicRegistriesAllowlist, 'public'],
  ];
  for (const [deny, allow, what] of lists) {
    const bad = startsWithAny(image, deny);
    if (bad !== undefined && startsWithAny(image, allow) === undefined)
      return hit(
        c,
        'image',
        `runs image ${image} from the ${what} registry ${bad}; pull it from a trusted registry`,
      );
  }
  if (!image.includes('/'))
    return hit(
      c,
      'image',
      `runs image ${image}, which names no registry and so comes from Docker Hub, a public registry; pull it from a trusted registry`,
    );
  return undefined;
});

const imagePullPolicy = containerCheck((c, _p, _o, ctx) => {
  const image = c.c.image;
  if (typeof image !== 'string') return undefined;
  const r = ctx.answers.image(image);
  const floating = floatingTags(ctx);
  const isFloating = !r.digest && (r.tag === undefined || floating.has(r.tag));
  if (c.c.imagePullPolicy === 'Always') return undefined;
  if (c.c.imagePullPolicy === undefined && isFloating) return undefined; // defaulted to Always
  if (!isFloating) return undefined;
  return hit(
    c,
    'imagePullPolicy',
    `runs image ${image}, whose tag floats, with imagePullPolicy ${c.c.imagePullPolicy ?? 'IfNotPresent'}, so nodes may run an old copy; set imagePullPolicy to Always or pin the image by digest`,
  );
});

export const imageChecks: Readonly<Record<string, Check>> = {
  imageDigest,
  imageTag,
  imageAllowlist,
  imageBlocklist,
  imagePullPolicy,
};
