import { useEffect, useState } from 'react';
import type { Shared } from '../App.js';
import { api, ApiError } from '../api.js';
import { Empty, Field, SmallGraph, timeAgo, type GraphEdge, type GraphNode } from '../ui.js';
import { ActionTable } from './ActionRow.js';

type Incident = Record<string, any>;

const str = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

export function IncidentsView({ shared }: { shared: Shared }) {
  const [items, setItems] = useState<Incident[]>();
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState<Incident>();
  useEffect(() => {
    api<{ items: Incident[] }>('/api/v1/incidents?limit=200')
      .then((r) => setItems(r.items))
      .catch((e) => setError(e instanceof ApiError && e.status === 503 ? 'Incident correlation is not running in this deployment.' : String(e)));
  }, [shared.alerts.length]);
  const show = async (id: string) => setOpen(await api<Incident>(`/api/v1/incidents/${encodeURIComponent(id)}`));
  if (error) return <Empty>{error}</Empty>;
  if (!items) return <Empty>Loading…</Empty>;
  return (
    <section className={open ? 'split' : ''}>
      <div className="pane">
        <div className="toolbar">
          <h1>Incidents</h1>
        </div>
        <p className="hint">Alerts on the same workload, pod, node or identity close in time are one incident.</p>
        {items.length === 0 ? (
          <Empty>No incidents.</Empty>
        ) : (
          <table className="grid clickable">
            <thead>
              <tr>
                <th>Severity</th>
                <th>Incident</th>
                <th>Alerts</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {items.map((i) => (
                <tr key={str(i.id)} onClick={() => void show(str(i.id))} data-testid="incident-row">
                  <td>
                    <span className={`badge sev-${str(i.severity).toLowerCase()}`}>{str(i.severity)}</span>
                  </td>
                  <td>
                    <strong>{str(i.title ?? i.summary ?? i.id)}</strong>
                    <div className="muted small">{str(i.entity ?? i.key ?? '')}</div>
                  </td>
                  <td>{Array.isArray(i.alerts) ? i.alerts.length : str(i.alertCount ?? '')}</td>
                  <td className="muted small">{i.updatedAt ? timeAgo(str(i.updatedAt)) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {open && <IncidentDetail i={open} shared={shared} onClose={() => setOpen(undefined)} />}
    </section>
  );
}

function IncidentDetail({ i, shared, onClose }: { i: Incident; shared: Shared; onClose: () => void }) {
  const timeline: Record<string, unknown>[] = Array.isArray(i.timeline) ? i.timeline : [];
  const mitre: Record<string, unknown>[] = Array.isArray(i.mitre) ? i.mitre : [];
  const br = (i.blastRadius ?? i.blast_radius ?? {}) as Record<string, any>;
  const graph = (br.graph ?? {}) as { nodes?: GraphNode[]; edges?: GraphEdge[] };
  const brItems: unknown[] = Array.isArray(br.items) ? br.items : Array.isArray(br.list) ? br.list : [];
  const actions = shared.actions.filter((a) => a.incident === i.id);
  return (
    <aside className="detail" data-testid="incident-detail">
      <div className="detail-head">
        <div>
          <span className={`badge sev-${str(i.severity).toLowerCase()}`}>{str(i.severity)}</span>
          <h2>{str(i.title ?? i.id)}</h2>
        </div>
        <button className="link" onClick={onClose} aria-label="close">
          ✕
        </button>
      </div>
      {i.explanation && <div className="explanation">{str(i.explanation)}</div>}
      {mitre.length > 0 && (
        <Field label="MITRE ATT&CK">
          <div className="chips">
            {mitre.map((m, k) => (
              <span key={k} className="chip mitre">
                {str(m.technique)} {str(m.name ?? '')} <span className="muted">· {str(m.tactic)}</span>
              </span>
            ))}
          </div>
        </Field>
      )}
      <h3>Timeline</h3>
      <ol className="timeline">
        {timeline.map((t, k) => (
          <li key={k}>
            <span className="muted small">{str(t.time)}</span> <strong>{str(t.rule ?? t.title ?? t.kind)}</strong> <span className="small">{str(t.summary ?? t.output ?? '')}</span>
          </li>
        ))}
      </ol>
      <h3>Blast radius</h3>
      <SmallGraph nodes={graph.nodes ?? []} edges={graph.edges ?? []} />
      <ul className="blast-list">
        {brItems.map((b, k) => (
          <li key={k}>{typeof b === 'string' ? b : str((b as Record<string, unknown>).summary ?? b)}</li>
        ))}
      </ul>
      <h3>Containment</h3>
      {actions.length === 0 ? <Empty>No action for this incident.</Empty> : <ActionTable actions={actions} canAct={shared.role !== 'viewer'} onAct={shared.act} />}
    </aside>
  );
}
