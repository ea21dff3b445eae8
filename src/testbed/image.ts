/**
 * The testbed image, built locally (no registry needed): FROM scratch + the host's static
 * /bin/busybox (Debian's busybox-static), its applets installed as symlinks, plus a small web site
 * served by busybox httpd with a diagnostics CGI that has a command injection on purpose (the demo's
 * way in: a shell spawned from the service is then natural).
 */
import type Docker from 'dockerode';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Bump when the image content changes, so an old local image is not reused. */
export const TESTBED_IMAGE = 'vigie-testbed:4';
export const TESTBED_LABEL = 'vigie.testbed';

const FILES: Readonly<Record<string, string>> = {
  'etc/passwd':
    'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/www:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  'etc/group': 'root:x:0:\nwww:x:33:\nnogroup:x:65534:\n',
  // Fake hashes: the point is that reading this file is noticed, not what it holds.
  'etc/shadow': 'root:$6$vigie$Zm9vYmFyZm9vYmFyZm9vYmFy:19700:0:99999:7:::\nwww:!:19700::::::\n',
  'www/index.html': '<!doctype html><title>shop</title><h1>Shop</h1><a href="/products.json">products</a>\n',
  'www/products.json': '[{"id":1,"name":"cup","price":4.5},{"id":2,"name":"plate","price":7}]\n',
  'www/health': 'ok\n',
  'www/about.html': '<!doctype html><title>about</title><p>A small shop.</p>\n',
  // Vulnerable on purpose: the host parameter is passed to a shell unquoted.
  'www/cgi-bin/diag':
    '#!/bin/sh\n' +
    "printf 'Content-Type: text/plain\\r\\n\\r\\n'\n" +
    'host=$(httpd -d "${QUERY_STRING#host=}")\n' +
    'sh -c "ping -c 1 -W 1 $host" 2>&1\n',
};

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "mkdir", "-p", "/tmp", "/root", "/usr/bin", "/var/tmp"]
RUN ["/bin/busybox", "chmod", "1777", "/tmp", "/var/tmp"]
COPY etc/ /etc/
COPY www/ /www/
LABEL ${TESTBED_LABEL}="1"
EXPOSE 8080
CMD ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
`;

export async function imageExists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Build the testbed image unless it is already there. Returns the tag. */
export async function ensureTestbedImage(
  docker: Docker,
  opts: { tag?: string; rebuild?: boolean; busybox?: string } = {},
): Promise<string> {
  const tag = opts.tag ?? TESTBED_IMAGE;
  if (!opts.rebuild && (await imageExists(docker, tag))) return tag;
  const busybox = opts.busybox ?? '/bin/busybox';
  if (!existsSync(busybox))
    throw new Error(`${busybox} not found: install Debian's busybox-static (scripts/setup.sh does it)`);
  const ctx = mkdtempSync(join(tmpdir(), 'vigie-image-'));
  try {
    copyFileSync(busybox, join(ctx, 'busybox'));
    chmodSync(join(ctx, 'busybox'), 0o755);
    for (const [rel, text] of Object.entries(FILES)) {
      const p = join(ctx, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, text);
      if (rel.startsWith('www/cgi-bin/')) chmodSync(p, 0o755);
    }
    chmodSync(join(ctx, 'etc/shadow'), 0o640);
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    const src = ['Dockerfile', 'busybox', ...Object.keys(FILES)];
    const stream = await docker.buildImage({ context: ctx, src }, { t: tag, rm: true, forcerm: true });
    const results = await new Promise<{ error?: string; errorDetail?: { message?: string } }[]>(
      (resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null, res: unknown[]) =>
          err ? reject(err) : resolve(res as { error?: string }[]),
        ),
    );
    const failed = results.find((r) => r.error || r.errorDetail);
    if (failed) throw new Error(`building ${tag} failed: ${failed.error ?? failed.errorDetail?.message}`);
    if (!(await imageExists(docker, tag))) throw new Error(`building ${tag} produced no image`);
    return tag;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}
