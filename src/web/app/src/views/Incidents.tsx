import { useEffect, useState } from 'react';
import type { Shared } from '../App.js';
import { api, ApiError } from '../api.js';
import { Empty, Field, SmallGraph, timeAgo, type GraphEdge, type GraphNode } from '../ui.js';
import { ActionTable } from './ActionRow.js';

type Incident = Record<string, any>;

const str = (v: unknown) =>
  v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
/** Severity is {level, score, factors} in stored incidents; older shapes may carry a plain string. */
const level = (i: Incident) => str(i.severity?.level ?? i.severity);
const entityOf = (i: Incident) => {
  const e = i.entities ?? {};
  return [
    e.namespace && e.workload ? `${e.namespace}/${e.workload}` : e.workload,
    ...(e.containers ?? []).map((c: string) => c.slice(0, 12)),
    ...(e.identities ?? []),
  ]
    .filter(Boolean)
    .join(' · ');
};

export function IncidentsView({ shared }: { shared: Shared }) {
  const [items, setItems] = useState<Incident[]>();
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState<Incident>();
  useEffect(() => {
    api<{ items: Incident[] }>('/api/v1/incidents?limit=200')
      .then((r) => setItems(r.items))
      .catch((e) =>
        setError(
          e instanceof ApiError && e.status === 503
            ? 'Incident correlation is not running in this deployment.'
            : String(e),
        ),
      );
  }, [shared.alerts.length]);
  const show = async (id: string) =>
    setOpen(await api<Incident>(`/api/v1/incidents/${encodeURIComponent(id)}`));
  if (error) return <Empty>{error}</Empty>;
  if (!items) return <Empty>Loading…</Empty>;
  return (
    <section className={open ? 'split' : ''}>
      <div className="pane">
        <div className="toolbar">
          <h1>Incidents</h1>
        </div>
        <p className="hint">
          Alerts on the same workload, pod, node or identity close in time are one incident.
        </p>
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
                    <span className={`badge sev-${level(i).toLowerCase()}`}>{level(i)}</span>
                  </td>
                  <td>
                    <strong>{str(i.title ?? i.id)}</strong>
                    <div className="muted small">{entityOf(i)}</div>
                  </td>
                  <td>{str(i.alertCount ?? (Array.isArray(i.alerts) ? i.alerts.length : ''))}</td>
                  <td className="muted small">{i.lastSeen ? timeAgo(str(i.lastSeen)) : ''}</td>
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
  const g = (br.graph ?? {}) as {
    nodes?: GraphNode[];
    edges?: { from: string; to: string; relation?: string; label?: string }[];
  };
  const graph = {
    nodes: g.nodes ?? [],
    edges: (g.edges ?? []).map((e): GraphEdge => ({ from: e.from, to: e.to, label: e.label ?? e.relation })),
  };
  const brItems: Record<string, unknown>[] = Array.isArray(br.items) ? br.items : [];
  const actions = shared.actions.filter((a) => a.incident === i.id);
  return (
    <aside className="detail" data-testid="incident-detail">
      <div className="detail-head">
        <div>
          <span className={`badge sev-${level(i).toLowerCase()}`}>{level(i)}</span>{' '}
          <span className="muted small">score {str(i.severity?.score ?? '')}</span>
          <h2>{str(i.title ?? i.id)}</h2>
          <div className="muted small">
            {str(i.firstSeen)} → {str(i.lastSeen)} · {str(i.alertCount)} alert(s) · {entityOf(i)}
          </div>
        </div>
        <button className="link" onClick={onClose} aria-label="close">
          ✕
        </button>
      </div>
      {i.explanation && <div className="explanation">{str(i.explanation)}</div>}
      {Array.isArray(i.severity?.factors) && i.severity.factors.length > 0 && (
        <Field label="Severity">
          <ul className="factors">
            {i.severity.factors.map((f: { factor: string; points: number; why: string }, k: number) => (
              <li key={k}>
                +{f.points} {f.factor}: <span className="muted">{f.why}</span>
              </li>
            ))}
          </ul>
        </Field>
      )}
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
            <span className="muted small">{str(t.time)}</span>{' '}
            <strong>{str(t.rule ?? t.title ?? t.kind)}</strong>{' '}
            {Array.isArray(t.techniques) && t.techniques.length > 0 && (
              <span className="chip mitre">{(t.techniques as string[]).join(' ')}</span>
            )}{' '}
            <span className="small">{str(t.output ?? '')}</span>
          </li>
        ))}
      </ol>
      <h3>Blast radius</h3>
      {br.score !== undefined && <div className="muted small">reach score {str(br.score)}/100</div>}
      <SmallGraph nodes={graph.nodes} edges={graph.edges} />
      <ul className="blast-list">
        {brItems.map((b, k) => (
          <li key={k}>
            <span className={`badge risk-${str(b.risk)}`}>{str(b.risk)}</span> {str(b.relation)}{' '}
            <strong>{str(b.kind)}</strong> {str(b.name)}{' '}
            {b.detail ? <span className="muted small">{str(b.detail)}</span> : null}
          </li>
        ))}
      </ul>
      <h3>Containment</h3>
      {actions.length === 0 ? (
        <Empty>No action for this incident.</Empty>
      ) : (
        <ActionTable actions={actions} canAct={shared.role !== 'viewer'} onAct={shared.act} />
      )}
    </aside>
  );
}
