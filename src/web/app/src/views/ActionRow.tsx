import type { Action } from '../api.js';
import { StatusBadge, timeAgo } from '../ui.js';

/** One action with the buttons its state allows: approve a planned one, roll back an executed one. */
export function ActionRow({
  a,
  canAct,
  onAct,
}: {
  a: Action;
  canAct: boolean;
  onAct: (id: string, verb: 'approve' | 'rollback') => void;
}) {
  return (
    <tr data-testid={`action-${a.id}`}>
      <td>
        <strong>{a.action}</strong>
        {a.params && Object.keys(a.params).length > 0 && (
          <div className="muted small">
            {Object.entries(a.params)
              .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
              .join(' ')}
          </div>
        )}
      </td>
      <td>
        {a.target.name ?? a.target.id.slice(0, 12)}
        <div className="muted small">
          {a.target.platform} {a.target.kind}
          {a.target.namespace ? ` · ${a.target.namespace}` : ''}
        </div>
      </td>
      <td>
        <StatusBadge s={a.status} />
        {a.verified && (
          <span className="verified" title="checked against the platform's real state">
            {' '}
            ✓ verified
          </span>
        )}
        {a.error && <div className="error small">{a.error}</div>}
      </td>
      <td className="muted small">
        {a.mode}
        <div>{timeAgo(a.createdAt)}</div>
        {a.expiresAt && <div>expires {new Date(a.expiresAt).toLocaleTimeString()}</div>}
      </td>
      <td className="small">{a.reason}</td>
      <td className="buttons">
        {a.status === 'planned' && (
          <button disabled={!canAct} onClick={() => onAct(a.id, 'approve')} data-testid="approve">
            Approve
          </button>
        )}
        {a.status === 'executed' && (
          <button
            className="secondary"
            disabled={!canAct}
            onClick={() => onAct(a.id, 'rollback')}
            data-testid="rollback"
          >
            Roll back
          </button>
        )}
      </td>
    </tr>
  );
}

export function ActionTable({
  actions,
  canAct,
  onAct,
}: {
  actions: Action[];
  canAct: boolean;
  onAct: (id: string, verb: 'approve' | 'rollback') => void;
}) {
  return (
    <table className="grid">
      <thead>
        <tr>
          <th>Action</th>
          <th>Target</th>
          <th>Status</th>
          <th>Mode</th>
          <th>Why</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {actions.map((a) => (
          <ActionRow key={a.id} a={a} canAct={canAct} onAct={onAct} />
        ))}
      </tbody>
    </table>
  );
}
