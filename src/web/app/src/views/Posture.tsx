import { useEffect, useMemo, useState } from 'react';
import { api, ApiError } from '../api.js';
import { Empty } from '../ui.js';

type Finding = {
  control: string;
  title?: string;
  severity: string;
  resource: { apiVersion?: string; kind: string; namespace?: string; name: string };
  path?: string;
  message: string;
  fix?: string;
  remediation?: string;
  excepted?: boolean;
};

export function PostureView() {
  const [findings, setFindings] = useState<Finding[]>();
  const [error, setError] = useState<string>();
  const [by, setBy] = useState<'control' | 'resource'>('control');
  useEffect(() => {
    api<{ findings?: Finding[]; items?: Finding[] }>('/api/v1/posture/findings')
      .then((r) => setFindings(r.findings ?? r.items ?? []))
      .catch((e) =>
        setError(
          e instanceof ApiError && e.status === 503
            ? 'Posture scanning is not running in this deployment (start vigie run with --kubeconfig).'
            : String(e),
        ),
      );
  }, []);
  const groups = useMemo(() => {
    const m = new Map<string, Finding[]>();
    for (const f of findings ?? []) {
      const k =
        by === 'control'
          ? `${f.control}${f.title ? ' · ' + f.title : ''}`
          : `${f.resource.kind} ${f.resource.namespace ? f.resource.namespace + '/' : ''}${f.resource.name}`;
      m.set(k, [...(m.get(k) ?? []), f]);
    }
    return [...m.entries()].sort((a, b) => b[1].length - a[1].length);
  }, [findings, by]);
  if (error) return <Empty>{error}</Empty>;
  if (!findings) return <Empty>Loading…</Empty>;
  return (
    <section>
      <div className="toolbar">
        <h1>Posture</h1>
        <div className="chips">
          {(['control', 'resource'] as const).map((x) => (
            <button key={x} className={x === by ? 'chip active' : 'chip'} onClick={() => setBy(x)}>
              by {x}
            </button>
          ))}
        </div>
      </div>
      {groups.length === 0 ? (
        <Empty>No findings.</Empty>
      ) : (
        groups.map(([k, fs]) => (
          <details key={k} className="group">
            <summary>
              <strong>{k}</strong> <span className="muted">{fs.length} finding(s)</span>
            </summary>
            <table className="grid">
              <tbody>
                {fs.map((f, i) => (
                  <tr key={i} className={f.excepted ? 'excepted' : ''}>
                    <td>
                      <span className={`badge sev-${f.severity.toLowerCase()}`}>{f.severity}</span>
                    </td>
                    <td className="small">
                      {by === 'control'
                        ? `${f.resource.kind} ${f.resource.namespace ?? ''}/${f.resource.name}`
                        : f.control}
                    </td>
                    <td className="small">
                      {f.message}
                      {f.path && <div className="mono muted">{f.path}</div>}
                    </td>
                    <td className="small muted">
                      {f.excepted ? 'excepted' : (f.fix ?? f.remediation ?? '')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        ))
      )}
    </section>
  );
}
