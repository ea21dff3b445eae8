/**
 * deploy/kubernetes/vigie.yaml: NATS requires a token, which comes from Secret vigie-nats (never
 * written in the manifest), and every NATS client of the manifest presents it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadText } from '../../src/detect/posture/load.js';
import { ACTIONS } from '../../src/model/action.js';
import { parsePolicy } from '../../src/respond/policy.js';

const FILE = resolve(__dirname, '..', '..', 'deploy', 'kubernetes', 'vigie.yaml');

describe('the Kubernetes manifest', () => {
  const { objects, errors } = loadText(readFileSync(FILE, 'utf8'), FILE);
  const byName = (kind: string, name: string) =>
    objects.map((o) => o.obj).find((o) => o.kind === kind && o.metadata?.name === name)!;

  it('parses', () => {
    expect(errors).toEqual([]);
  });

  it('starts NATS with a token taken from Secret vigie-nats through its environment', () => {
    const conf = byName('ConfigMap', 'nats-config').data['nats.conf'] as string;
    expect(conf).toMatch(/authorization\s*{\s*token:\s*\$NATS_TOKEN\s*}/);
    const nats = byName('StatefulSet', 'nats').spec.template.spec;
    const c = nats.containers[0];
    expect(c.args.slice(0, 2)).toEqual(['-c', '/etc/nats/nats.conf']);
    expect(c.env).toContainEqual({
      name: 'NATS_TOKEN',
      valueFrom: { secretKeyRef: { name: 'vigie-nats', key: 'token' } },
    });
    expect(nats.volumes).toContainEqual({ name: 'config', configMap: { name: 'nats-config' } });
  });

  it('gives agents and brain the token as a file from the same Secret', () => {
    for (const [kind, name] of [
      ['DaemonSet', 'vigie-agent'],
      ['Deployment', 'vigie-brain'],
    ]) {
      const pod = byName(kind, name).spec.template.spec;
      const c = pod.containers[0];
      const i = (c.args as string[]).indexOf('--nats-token-file');
      expect(i, name).toBeGreaterThan(0);
      expect(c.args[i + 1]).toBe('/var/run/secrets/vigie-nats/token');
      expect(c.volumeMounts).toContainEqual({
        name: 'nats-token',
        mountPath: '/var/run/secrets/vigie-nats',
        readOnly: true,
      });
      const v = pod.volumes.find((x: { name: string }) => x.name === 'nats-token');
      expect(v.secret.secretName).toBe('vigie-nats');
    }
    // The brain runs as user 1000: the file is readable by its group.
    const brain = byName('Deployment', 'vigie-brain').spec.template.spec;
    expect(brain.securityContext.fsGroup).toBe(1000);
    expect(brain.volumes.find((x: { name: string }) => x.name === 'nats-token').secret.defaultMode).toBe(
      0o440,
    );
  });

  it('writes no Secret of its own', () => {
    expect(objects.filter((o) => o.obj.kind === 'Secret')).toEqual([]);
  });

  it('gives the brain a response policy of Kubernetes actions, which the policy parser accepts', () => {
    const text = byName('ConfigMap', 'vigie-policy').data['policy.yaml'] as string;
    const policy = parsePolicy(text, 'vigie-policy');
    expect(policy.mode).toBe('monitor');
    const actions = policy.rules.flatMap((r) => r.actions.map((a) => a.action));
    expect(actions).toContain('k8s_isolate');
    for (const a of actions) expect(ACTIONS[a].platforms, a).toContain('kubernetes');
    const brain = byName('Deployment', 'vigie-brain').spec.template.spec;
    const args = brain.containers[0].args as string[];
    expect(args[args.indexOf('--policy') + 1]).toBe('/etc/vigie/policy.yaml');
    expect(brain.volumes).toContainEqual({ name: 'policy', configMap: { name: 'vigie-policy' } });
  });

  it("keeps the brain's database on a PersistentVolumeClaim, replaced with Recreate", () => {
    const brain = byName('Deployment', 'vigie-brain');
    expect(brain.spec.strategy).toEqual({ type: 'Recreate' });
    expect(brain.spec.template.spec.volumes).toContainEqual({
      name: 'data',
      persistentVolumeClaim: { claimName: 'vigie-brain-data' },
    });
    expect(byName('PersistentVolumeClaim', 'vigie-brain-data').spec.accessModes).toEqual(['ReadWriteOnce']);
    const c = brain.spec.template.spec.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
  });
});
