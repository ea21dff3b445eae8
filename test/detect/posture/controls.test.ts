import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlsDir, loadCatalogue } from '../../../src/detect/posture/catalogue.js';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { loadText } from '../../../src/detect/posture/load.js';
import { refKey, refOf } from '../../../src/detect/posture/k8s.js';
import { requireDataset } from '../../../src/util/datasets.js';

const SETTINGS = {
  imageRepositoryAllowList: ['registry.example.com', 'registry.k8s.io', 'k8s.gcr.io'],
  untrustedRegistries: ['quay.io'],
  cloudProvider: ['eks'],
};

// Absent data set: the test below is skipped (and says so); under CI=true its absence fails the run.
const regolibrary = requireDataset('kubescape-regolibrary');

describe('control catalogue', () => {
  const controls = loadCatalogue();

  it('has unique ids and complete entries', () => {
    expect(controls.length).toBeGreaterThanOrEqual(100);
    expect(new Set(controls.map((c) => c.id)).size).toBe(controls.length);
    for (const c of controls) {
      expect(c.title.length, c.id).toBeGreaterThan(3);
      expect(c.remediation.length, c.id).toBeGreaterThan(10);
      expect(Array.isArray(c.kubescape), c.id).toBe(true);
    }
  });

  it('covers Pod Security Standards baseline and restricted', () => {
    expect(controls.filter((c) => c.pss === 'baseline').length).toBeGreaterThanOrEqual(12);
    expect(controls.filter((c) => c.pss === 'restricted').length).toBeGreaterThanOrEqual(5);
  });

  it.skipIf(!regolibrary)("maps every control of Kubescape's NSA framework (data set)", () => {
    const root = regolibrary!;
    const nsa = JSON.parse(readFileSync(join(root, 'frameworks', 'nsaframework.json'), 'utf8'));
    const ids: string[] = nsa.activeControls.map((c: { controlID: string }) => c.controlID);
    const mapped = new Set(controls.flatMap((c) => c.kubescape));
    const missing = ids.filter((id) => !mapped.has(id));
    expect(missing).toEqual([]);
  });

  // Every control fires on a fixture of its group, and stays quiet where the fixtures say so.
  const dir = controlsDir();
  const fixtureFiles = readdirSync(dir).filter((f) => f.endsWith('.fixtures.yaml'));
  it('has a fixture file beside each control group', () => {
    const groups = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''));
    expect(fixtureFiles.map((f) => f.replace(/\.fixtures\.yaml$/, '')).sort()).toEqual(groups.sort());
  });

  const fired = new Set<string>();
  for (const file of fixtureFiles) {
    it(`fixtures ${file}`, () => {
      const { objects, errors } = loadText(readFileSync(join(dir, file), 'utf8'), file);
      expect(errors).toEqual([]);
      const res = evaluate(objects, { controls, settings: SETTINGS });
      const byRes = new Map<string, Set<string>>();
      for (const f of res.findings) {
        const k = refKey(f.resource);
        if (!byRes.has(k)) byRes.set(k, new Set());
        byRes.get(k)!.add(f.control);
        fired.add(f.control);
      }
      let checked = 0;
      for (const { obj } of objects) {
        const ann = obj.metadata?.annotations ?? {};
        const got = byRes.get(refKey(refOf(obj))) ?? new Set();
        for (const id of String(ann['vigie.dev/expect'] ?? '')
          .split(',')
          .filter(Boolean)) {
          expect(got.has(id), `${file}: ${obj.kind}/${obj.metadata?.name} should fire ${id}`).toBe(true);
          checked++;
        }
        for (const id of String(ann['vigie.dev/expect-not'] ?? '')
          .split(',')
          .filter(Boolean)) {
          expect(got.has(id), `${file}: ${obj.kind}/${obj.metadata?.name} should not fire ${id}`).toBe(false);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(0);
    });
  }

  it('every control is exercised by some fixture', () => {
    const notFired = controls.map((c) => c.id).filter((id) => !fired.has(id));
    expect(notFired).toEqual([]);
  });
});
