/**
 * The characterize stage as the live engine uses it, in one object:
 *   const ch = await createCharacterizer({ db, kubeConfig, postureOf });
 *   if (!ch.filter(alert)) return;            // suppressed by an operator exception
 *   alert.vigie.incident = ch.correlate(alert).id;
 *   store.add(alert);                         // stored once, with its incident
 *   responder.onAlert(alert, { incident: alert.vigie.incident });
 * With a cluster, each pod incident gets its blast radius asynchronously (cluster objects are
 * re-read at most every `clusterRefreshMs`), and with the local Docker each container incident: the
 * union over every pod or container of the incident, computed again when one joins. `settled()`
 * waits for pending enrichments (tests, stop).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type Docker from 'dockerode';
import { hostname } from 'node:os';
import { dockerBlastRadius, inspectAll } from './blast-docker.js';
import type { Alert } from '../model/alert.js';
import type { Db } from '../infra/db.js';
import { logger } from '../util/log.js';
import { blastRadius, loadClusterObjects, mergeBlastRadii, type BlastRadius, type Obj } from './blast.js';
import { createAlertFilter } from './feedback.js';
import { Correlator, type CorrelatorOptions, type Incident } from './incidents.js';

const log = logger('characterize');

export interface CharacterizerOptions extends CorrelatorOptions {
  db: Db;
  kubeConfig?: KubeConfig;
  /** Local Docker: blast radius of container incidents (containers inspected at most every clusterRefreshMs). */
  docker?: Docker;
  clusterRefreshMs?: number;
  /** Told when an incident's blast radius could not be computed (it is logged in any case). */
  onEnrichError?: (incident: string, err: unknown) => void;
}

export interface Characterizer {
  filter(alert: Alert): boolean;
  correlate(alert: Alert): Incident;
  readonly correlator: Correlator;
  settled(): Promise<void>;
  stats(): { suppressed: number; incidents: number; enriched: number; enrichErrors: number };
}

export async function createCharacterizer(o: CharacterizerOptions): Promise<Characterizer> {
  const correlator = new Correlator(o.db, o);
  const allow = createAlertFilter(o.db);
  const st = { suppressed: 0, incidents: 0, enriched: 0, enrichErrors: 0 };
  const pending = new Set<Promise<void>>();
  let cluster: { at: number; objects: Promise<Obj[]> } | undefined;
  const refresh = o.clusterRefreshMs ?? 30_000;
  const objects = (): Promise<Obj[]> => {
    if (!o.kubeConfig) return Promise.resolve([]);
    if (!cluster || Date.now() - cluster.at > refresh)
      cluster = { at: Date.now(), objects: loadClusterObjects(o.kubeConfig) };
    return cluster.objects;
  };
  const enriched = new Map<string, string>();
  let dockerView: { at: number; all: ReturnType<typeof inspectAll> } | undefined;
  const containers = () => {
    if (!dockerView || Date.now() - dockerView.at > Math.min(refresh, 5000))
      dockerView = { at: Date.now(), all: inspectAll(o.docker!) };
    return dockerView.all;
  };
  const track = (inc: Incident, key: string, work: () => Promise<boolean>) => {
    if (enriched.get(inc.id) === key) return;
    enriched.set(inc.id, key);
    const p = work()
      .then((ok) => {
        if (ok) st.enriched++;
      })
      .catch((err: unknown) => {
        st.enrichErrors++;
        log.warn('blast radius failed', { incident: inc.id, error: String(err) });
        o.onEnrichError?.(inc.id, err);
      })
      .finally(() => pending.delete(p));
    pending.add(p);
  };

  return {
    correlator,
    filter(alert) {
      const ok = allow(alert);
      if (!ok) st.suppressed++;
      return ok;
    },
    correlate(alert) {
      const before = correlator.store.incidentOfAlert(alert.uuid);
      const inc = correlator.add(alert);
      if (!before && inc.alertCount === 1) st.incidents++;
      const pods = inc.entities.pods;
      const ids = inc.entities.containerIds ?? [];
      // The latest computation of an incident wins: an older one finishing later is dropped.
      const attach = (key: string, b: BlastRadius | undefined): boolean => {
        if (b && enriched.get(inc.id) === key) correlator.setBlastRadius(inc.id, b);
        return !!b;
      };
      if (o.kubeConfig && pods.length > 0) {
        const key = pods.join(',');
        track(inc, key, async () => {
          const all = await objects();
          const parts = pods.map((p) => {
            const [ns, name] = p.split('/');
            return blastRadius(all, ns, name);
          });
          return attach(key, mergeBlastRadii(parts.filter((b): b is BlastRadius => !!b)));
        });
      } else if (o.docker && ids.length > 0 && pods.length === 0) {
        const key = ids.join(',');
        track(inc, key, async () => {
          const all = await containers();
          // Every container of the incident that Docker still knows.
          const known = ids.filter((x) => all.some((c) => c.Id === x));
          if (known.length === 0) {
            o.onEnrichError?.(inc.id, new Error('its containers are gone'));
            return false;
          }
          const here = hostname();
          const parts = known.map((id) => dockerBlastRadius(all, id, here));
          return attach(key, mergeBlastRadii(parts.filter((b): b is BlastRadius => !!b)));
        });
      }
      return inc;
    },
    async settled() {
      await Promise.all([...pending]);
    },
    stats: () => ({ ...st }),
  };
}
