import { useEffect, useState } from 'react';
import { api, ApiError } from '../api.js';
import { Empty, Sparkline, timeAgo } from '../ui.js';

type Row = Record<string, any>;

export function WorkloadsView() {
  const [rows, setRows] = useState<Row[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    const load = () =>
      api<{ items: Row[] }>('/api/v1/baselines')
        .then((r) => setRows(r.items))
        .catch((e) =>
          setError(
            e instanceof ApiError && e.status === 503
              ? 'Baselines are not running in this deployment.'
              : String(e),
          ),
        );
    void load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, []);
  if (error) return <Empty>{error}</Empty>;
  if (!rows) return <Empty>Loading…</Empty>;
  return (
    <section>
      <div className="toolbar">
        <h1>Workloads</h1>
      </div>
      <p className="hint">
        Each workload (image + command in Docker, namespace + owner in Kubernetes) has a learned baseline:{' '}
        <em>learning</em> until it has seen enough, then <em>ready</em> (deviations alert), <em>stale</em>{' '}
        when it has not seen the workload for a while, or when new behaviour persisted across replicas with no
        security alert (it keeps alerting, at a higher threshold, until accepted).
      </p>
      {rows.length === 0 ? (
        <Empty>No workload seen yet.</Empty>
      ) : (
        <table className="grid" data-testid="workloads">
          <thead>
            <tr>
              <th>Workload</th>
              <th>Baseline</th>
              <th>Learned</th>
              <th>CPU</th>
              <th>Memory</th>
              <th>Last event</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const state = String(r.state ?? r.status ?? '');
              const counts: Record<string, unknown> = {
                events: r.learnedEvents,
                binaries: r.binaries,
                'n-grams': r.ngrams,
                peers: r.peers,
                'file dirs': r.fileDirs,
              };
              return (
                <tr key={String(r.workload ?? r.key)}>
                  <td className="mono small">{String(r.workload ?? r.key)}</td>
                  <td>
                    <span className={`badge state-${state}`}>{state}</span>
                  </td>
                  <td className="small muted">
                    {Object.entries(counts)
                      .filter(([, v]) => v !== undefined)
                      .map(([k, v]) => `${k} ${String(v)}`)
                      .join(' · ')}
                    {r.reason ? (
                      <div>{String(r.reason)}</div>
                    ) : (
                      r.staleReason && <div>stale: {String(r.staleReason)}</div>
                    )}
                  </td>
                  <td>
                    <Sparkline values={(r.cpu ?? []) as number[]} />
                  </td>
                  <td>
                    <Sparkline values={(r.memory ?? []) as number[]} />
                  </td>
                  <td className="small muted">{r.lastEventAt ? timeAgo(String(r.lastEventAt)) : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
