import { useMemo, useState } from 'react';
import type { Shared } from '../App.js';
import type { Alert } from '../api.js';
import { CategoryBadge, Empty, Field, PriorityBadge, timeAgo } from '../ui.js';
import { ActionTable } from './ActionRow.js';

const PRIOS = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'];
const CATS = ['attack', 'anomaly', 'misconfiguration', 'performance', 'flaw'];

/** {container: {id: 'x'}} → [['container.id', 'x']], for a readable key/value table. */
function flatten(o: unknown, prefix = ''): [string, string][] {
  if (o === null || o === undefined) return [];
  if (typeof o !== 'object') return [[prefix, String(o)]];
  return Object.entries(o as Record<string, unknown>).flatMap(([k, v]) =>
    flatten(v, prefix ? `${prefix}.${k}` : k),
  );
}

function where(a: Alert): string {
  const e = a.vigie.entities;
  if (e.k8s?.pod) return `${e.k8s.namespace}/${e.k8s.pod}`;
  return e.container?.name ?? e.container?.id?.slice(0, 12) ?? a.hostname;
}

export function AlertsView({ shared }: { shared: Shared }) {
  const [cat, setCat] = useState('');
  const [minPrio, setMinPrio] = useState('Debug');
  const [q, setQ] = useState('');
  const [openId, setOpenId] = useState<string>();
  const list = useMemo(() => {
    const rank = PRIOS.indexOf(minPrio);
    const needle = q.toLowerCase();
    return shared.alerts.filter(
      (a) =>
        (!cat || a.vigie.category === cat) &&
        PRIOS.indexOf(a.priority) <= rank &&
        (!needle || `${a.rule} ${a.output} ${where(a)}`.toLowerCase().includes(needle)),
    );
  }, [shared.alerts, cat, minPrio, q]);
  const open = shared.alerts.find((a) => a.uuid === openId);

  return (
    <section className={open ? 'split' : ''}>
      <div className="pane">
        <div className="toolbar">
          <h1>Alerts</h1>
          <div className="filters">
            <select aria-label="category" value={cat} onChange={(e) => setCat(e.target.value)}>
              <option value="">all categories</option>
              {CATS.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
            <select
              aria-label="minimum priority"
              value={minPrio}
              onChange={(e) => setMinPrio(e.target.value)}
            >
              {PRIOS.map((p) => (
                <option key={p} value={p}>
                  {p} and above
                </option>
              ))}
            </select>
            <input
              aria-label="search"
              placeholder="search rule, output, container"
              value={q}
              onChange={(e) => setQ(e.target.value)}
            />
          </div>
        </div>
        {list.length === 0 ? (
          <Empty>
            {shared.alerts.length === 0
              ? 'No alerts yet. New ones appear here as they happen.'
              : 'No alert matches these filters.'}
          </Empty>
        ) : (
          <table className="grid clickable" data-testid="alert-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Priority</th>
                <th>Category</th>
                <th>Rule</th>
                <th>Where</th>
              </tr>
            </thead>
            <tbody>
              {list.slice(0, 500).map((a) => (
                <tr
                  key={a.uuid}
                  className={a.uuid === openId ? 'selected' : ''}
                  onClick={() => setOpenId(a.uuid)}
                  data-testid="alert-row"
                >
                  <td className="muted small" title={a.time}>
                    {timeAgo(a.time)}
                  </td>
                  <td>
                    <PriorityBadge p={a.priority} />
                  </td>
                  <td>
                    <CategoryBadge c={a.vigie.category} />
                  </td>
                  <td>
                    <strong>{a.rule}</strong>
                    <div className="muted small ellipsis">{a.output}</div>
                  </td>
                  <td className="small">{where(a)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {open && <AlertDetail a={open} shared={shared} onClose={() => setOpenId(undefined)} />}
    </section>
  );
}

function AlertDetail({ a, shared, onClose }: { a: Alert; shared: Shared; onClose: () => void }) {
  const cid = a.vigie.entities.container?.id;
  const related = shared.actions.filter(
    (x) =>
      x.alert === a.uuid ||
      (!!cid && x.target.id === cid) ||
      (!!a.vigie.incident && x.incident === a.vigie.incident),
  );
  const canAct = shared.role === 'responder' || shared.role === 'admin';
  return (
    <aside className="detail" data-testid="alert-detail">
      <div className="detail-head">
        <div>
          <PriorityBadge p={a.priority} /> <CategoryBadge c={a.vigie.category} />
          <h2>{a.rule}</h2>
          <div className="muted small">
            {a.time} · {a.source} · detector {a.vigie.detector}
          </div>
        </div>
        <button className="link" onClick={onClose} aria-label="close">
          ✕
        </button>
      </div>
      <div className="explanation" data-testid="explanation">
        {a.vigie.explanation}
      </div>
      {a.vigie.score !== undefined && (
        <Field label="Score">
          {a.vigie.score.toFixed(3)}{' '}
          {a.vigie.threshold !== undefined && (
            <span className="muted">(threshold {a.vigie.threshold.toFixed(3)})</span>
          )}
        </Field>
      )}
      <Field label="Output">{a.output}</Field>
      {a.vigie.mitre.length > 0 && (
        <Field label="MITRE ATT&CK">
          <div className="chips">
            {a.vigie.mitre.map((m) => (
              <a
                key={m.technique}
                className="chip mitre"
                href={`https://attack.mitre.org/techniques/${m.technique.replace('.', '/')}/`}
                target="_blank"
                rel="noreferrer"
              >
                {m.technique} {m.name ?? ''} <span className="muted">· {m.tactic}</span>
              </a>
            ))}
          </div>
        </Field>
      )}
      <Field label="Entities">
        <table className="kv-table">
          <tbody>
            {flatten(a.vigie.entities).map(([k, v]) => (
              <tr key={k}>
                <td>{k}</td>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Field>
      {Object.keys(a.output_fields).length > 0 && (
        <Field label="Fields">
          <table className="kv-table">
            <tbody>
              {Object.entries(a.output_fields).map(([k, v]) => (
                <tr key={k}>
                  <td>{k}</td>
                  <td>{String(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Field>
      )}
      {a.tags.length > 0 && (
        <Field label="Tags">
          <div className="chips">
            {a.tags.map((t) => (
              <span key={t} className="chip">
                {t}
              </span>
            ))}
          </div>
        </Field>
      )}
      <Field label="Evidence">
        <span className="muted small">
          {a.vigie.evidence.length} event(s): {a.vigie.evidence.slice(0, 5).join(', ')}
        </span>
      </Field>
      {a.vigie.incident && <Field label="Incident">{a.vigie.incident}</Field>}
      <h3>Containment</h3>
      {related.length === 0 ? (
        <Empty>No action planned for this alert.</Empty>
      ) : (
        <ActionTable actions={related} canAct={canAct} onAct={shared.act} />
      )}
    </aside>
  );
}
