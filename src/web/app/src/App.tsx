import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, ApiError, connectStream, getToken, setToken, type Action, type Alert } from './api.js';
import { AlertsView } from './views/Alerts.js';
import { IncidentsView } from './views/Incidents.js';
import { ActionsView } from './views/Actions.js';
import { WorkloadsView } from './views/Workloads.js';
import { PostureView } from './views/Posture.js';
import { ReportsView } from './views/Reports.js';

const TABS = ['Alerts', 'Incidents', 'Actions', 'Workloads', 'Posture', 'Reports'] as const;
type Tab = (typeof TABS)[number];

export interface Shared {
  alerts: Alert[];
  actions: Action[];
  role: string;
  refreshActions: () => Promise<void>;
  act: (id: string, verb: 'approve' | 'rollback') => Promise<void>;
  notice: (msg: string, kind?: 'ok' | 'error') => void;
}

function Login({ onToken, error }: { onToken: (t: string) => void; error?: string }) {
  const [t, setT] = useState('');
  return (
    <div className="login">
      <div className="login-card">
        <div className="brand big">
          <span className="dot" /> Vigie
        </div>
        <p>
          Paste an API token. <code>vigie run</code> prints an admin token the first time it starts;{' '}
          <code>vigie tokens create --role viewer</code> makes more.
        </p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (t.trim()) onToken(t.trim());
          }}
        >
          <input
            aria-label="API token"
            placeholder="vg_…"
            value={t}
            onChange={(e) => setT(e.target.value)}
            autoFocus
          />
          <button type="submit">Sign in</button>
        </form>
        {error && <div className="error">{error}</div>}
      </div>
    </div>
  );
}

export function App() {
  const [token, setTok] = useState<string | null>(getToken());
  const [role, setRole] = useState<string>('');
  const [authError, setAuthError] = useState<string>();
  const [tab, setTab] = useState<Tab>(
    () => TABS.find((t) => `#${t.toLowerCase()}` === location.hash) ?? 'Alerts',
  );
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [actions, setActions] = useState<Action[]>([]);
  const [live, setLive] = useState<'live' | 'offline'>('offline');
  const [toast, setToast] = useState<{ msg: string; kind: 'ok' | 'error' }>();
  const [unseen, setUnseen] = useState(0);

  const notice = useCallback((msg: string, kind: 'ok' | 'error' = 'ok') => {
    setToast({ msg, kind });
    setTimeout(() => setToast(undefined), 4000);
  }, []);

  const refreshActions = useCallback(async () => {
    try {
      setActions((await api<{ items: Action[] }>('/api/v1/actions?limit=500')).items);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 503)) throw e;
    }
  }, []);

  useEffect(() => {
    if (!token) return;
    let stop = () => {};
    (async () => {
      try {
        const me = await api<{ role: string }>('/api/v1/me');
        setRole(me.role);
        setAlerts((await api<{ items: Alert[] }>('/api/v1/alerts?limit=500')).items);
        await refreshActions();
        stop = connectStream((m) => {
          if (m.type === 'alert') {
            setAlerts((a) => [m.data, ...a.filter((x) => x.uuid !== m.data.uuid)].slice(0, 2000));
            setUnseen((n) => n + 1);
          } else if (m.type === 'action') {
            setActions((a) => [m.data, ...a.filter((x) => x.id !== m.data.id)]);
          }
        }, setLive);
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
          setToken(null);
          setTok(null);
          setAuthError('That token was not accepted.');
        } else setAuthError(String(e));
      }
    })();
    return () => stop();
  }, [token, refreshActions]);

  const act = useCallback(
    async (id: string, verb: 'approve' | 'rollback') => {
      try {
        const r = await api<Action>(`/api/v1/actions/${encodeURIComponent(id)}/${verb}`, { method: 'POST' });
        setActions((a) => a.map((x) => (x.id === id ? r : x)));
        notice(`${r.action} on ${r.target.name ?? r.target.id}: ${r.status.replace('_', ' ')}`);
      } catch (e) {
        notice(e instanceof Error ? e.message : String(e), 'error');
      }
    },
    [notice],
  );

  const shared: Shared = useMemo(
    () => ({ alerts, actions, role, refreshActions, act, notice }),
    [alerts, actions, role, refreshActions, act, notice],
  );

  if (!token)
    return (
      <Login
        error={authError}
        onToken={(t) => {
          setToken(t);
          setAuthError(undefined);
          setTok(t);
        }}
      />
    );

  const planned = actions.filter((a) => a.status === 'planned').length;
  return (
    <div className="app">
      <header>
        <div className="brand">
          <span className="dot" /> Vigie
        </div>
        <nav>
          {TABS.map((t) => (
            <button
              key={t}
              className={t === tab ? 'tab active' : 'tab'}
              onClick={() => {
                setTab(t);
                history.replaceState(null, '', `#${t.toLowerCase()}`);
                if (t === 'Alerts') setUnseen(0);
              }}
            >
              {t}
              {t === 'Alerts' && unseen > 0 && tab !== 'Alerts' && <span className="count">{unseen}</span>}
              {t === 'Actions' && planned > 0 && <span className="count">{planned}</span>}
            </button>
          ))}
        </nav>
        <div className="right">
          <span className={`live ${live}`} data-testid="live-state">
            {live === 'live' ? '● live' : '○ offline'}
          </span>
          <span className="muted">{role}</span>
          <button
            className="link"
            onClick={() => {
              setToken(null);
              setTok(null);
            }}
          >
            sign out
          </button>
        </div>
      </header>
      <main>
        {tab === 'Alerts' && <AlertsView shared={shared} />}
        {tab === 'Incidents' && <IncidentsView shared={shared} />}
        {tab === 'Actions' && <ActionsView shared={shared} />}
        {tab === 'Workloads' && <WorkloadsView />}
        {tab === 'Posture' && <PostureView />}
        {tab === 'Reports' && <ReportsView />}
      </main>
      {toast && <div className={`toast ${toast.kind}`}>{toast.msg}</div>}
    </div>
  );
}
