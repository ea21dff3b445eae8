import { useState } from 'react';
import type { Shared } from '../App.js';
import { Empty } from '../ui.js';
import { ActionTable } from './ActionRow.js';

const FILTERS = ['all', 'planned', 'executed', 'rolled_back', 'failed', 'skipped'] as const;

export function ActionsView({ shared }: { shared: Shared }) {
  const [f, setF] = useState<(typeof FILTERS)[number]>('all');
  const list = shared.actions.filter((a) => f === 'all' || a.status === f);
  const canAct = shared.role === 'responder' || shared.role === 'admin';
  return (
    <section>
      <div className="toolbar">
        <h1>Response actions</h1>
        <div className="chips">
          {FILTERS.map((x) => (
            <button key={x} className={x === f ? 'chip active' : 'chip'} onClick={() => setF(x)}>
              {x.replace('_', ' ')}
            </button>
          ))}
        </div>
      </div>
      <p className="hint">
        In monitor mode Vigie plans actions and waits: approve one to execute it. Every executed action can be
        rolled back; actions with an expiry lift themselves.
      </p>
      {!canAct && <p className="hint">Your role ({shared.role}) can look but not approve or roll back.</p>}
      {list.length === 0 ? (
        <Empty>No actions{f !== 'all' ? ` with status ${f}` : ''}.</Empty>
      ) : (
        <ActionTable actions={list} canAct={canAct} onAct={shared.act} />
      )}
    </section>
  );
}
