/** Runs the `vigie` CLI from the sources, as a user would, with stdin given or closed. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const root = join(__dirname, '..', '..', '..');

export function vigie(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, KUBECONFIG: '/nonexistent' },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    p.stdin.end(stdin);
  });
}
