#!/usr/bin/env node
// Runs the compiled CLI. Build first with `npm run build` (the ./vigie wrapper does it for you).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`vigie: ${entry} is missing; run "npm run build" (or ./vigie, which builds it)\n`);
  process.exit(1);
}
await import(entry);
