/**
 * Supply chain: a dependency's install script runs only when package.json's "allowScripts" names
 * it. The lock file says which packages have one; a new one must be decided on (true or false)
 * before it can land, and every install path goes through scripts/npm-ci.sh with scripts ignored.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  allowScripts?: Record<string, boolean>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean }>;
};

describe('install scripts', () => {
  it('every locked package with an install script is named in allowScripts', () => {
    const withScript = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScript.length).toBeGreaterThan(0);
    const undecided = withScript.filter((n) => typeof pkg.allowScripts?.[n] !== 'boolean');
    expect(undecided, 'decide in package.json "allowScripts" whether their install scripts may run').toEqual(
      [],
    );
  });

  it('npm ignores install scripts by default here, and every install path allows them by name only', () => {
    expect(readFileSync('.npmrc', 'utf8')).toMatch(/^ignore-scripts\s*=\s*true$/m);
    const npmCi = readFileSync('scripts/npm-ci.sh', 'utf8');
    expect(npmCi).toMatch(/npm ci --ignore-scripts/);
    expect(npmCi).toMatch(/allowScripts/);
    for (const f of ['scripts/setup.sh', 'Dockerfile.registry']) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).toMatch(/scripts\/npm-ci\.sh/);
      expect(text.replace(/npm-ci\.sh/g, ''), f).not.toMatch(/npm (ci|install)\b/);
    }
    // The image without a registry copies the host's node_modules (installed by npm-ci.sh) and only
    // prunes it, with install scripts off; the Dockerfile installs nothing.
    const code = (f: string) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => !/^\s*#/.test(l))
        .join('\n');
    const image = code('scripts/image.sh');
    expect(image).not.toMatch(/npm (ci|install)\b/);
    for (const prune of image.match(/npm prune[^\n]*/g) ?? []) expect(prune).toMatch(/--ignore-scripts/);
    expect(image).toMatch(/npm prune/);
    expect(code('Dockerfile')).not.toMatch(/\bnpm\b/);
  });

  it('every dependency is pinned to an exact version', () => {
    const loose = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).filter(
      ([, v]) => !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(v),
    );
    expect(loose).toEqual([]);
  });
});
