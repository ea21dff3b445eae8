// Copies the data files that the program reads at run time beside its modules into dist/, so that
// dist/ (with package.json and node_modules) runs without the source tree: the posture controls
// (src/detect/posture/controls/*.json → dist/detect/posture/controls/) and the default response
// policy (policies/default.yaml → dist/policies/). The web assets are built into dist/web by vite.
// test/infra/dist-standalone.test.ts runs the built CLI from such a copy.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** [source directory, destination directory, file filter] */
const DATA = [
  ['src/detect/posture/controls', 'dist/detect/posture/controls', (f) => f.endsWith('.json')],
  ['policies', 'dist/policies', (f) => f.endsWith('.yaml')],
];

let copied = 0;
for (const [from, to, keep] of DATA) {
  const dest = join(root, to);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(join(root, from)).filter(keep).sort()) {
    copyFileSync(join(root, from, f), join(dest, f));
    copied++;
  }
}
if (copied === 0) throw new Error('copy-data: no data file found');
