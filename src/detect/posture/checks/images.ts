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

function registryOf(ctx: ScanContext, image: string): string {
  return ctx.answers.image(image).registry;
}

const imageAllowlist = containerCheck((c, _p, _o, ctx) => {
  const allow = ctx.settings.imageRepositoryAllowList ?? [];
  const image = c.c.image;
  if (allow.length === 0 || typeof image !== 'string') return undefined;
  const full = `${registryOf(ctx, image)}/${ctx.answers.image(image).repository}`;
  const ok = allow.some(
    (a) =>
      image.startsWith(a) ||
      full.startsWith(a) ||
      registryOf(ctx, image) === a ||
      registryOf(ctx, image).endsWith(`.${a}`) ||
      registryOf(ctx, image).split(':')[0].endsWith(a),
  );
  return ok
    ? undefined
    : hit(
        c,
        'image',
        `runs image ${image} from a registry outside the allowlist; pull it from an allowed registry`,
      );
});

const imageBlocklist = containerCheck((c, _p, _o, ctx) => {
  const deny = [...(ctx.settings.untrustedRegistries ?? []), ...(ctx.settings.publicRegistries ?? [])];
  const image = c.c.image;
  if (deny.length === 0 || typeof image !== 'string') return undefined;
  const reg = registryOf(ctx, image);
  const bad = deny.find((d) => image.startsWith(d) || reg === d);
  return bad
    ? hit(
        c,
        'image',
        `runs image ${image} from the untrusted registry ${bad}; pull it from a trusted registry`,
      )
    : undefined;
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
