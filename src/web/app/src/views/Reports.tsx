import { useEffect, useState } from 'react';
import { api, getToken } from '../api.js';
import { Empty, Markdown } from '../ui.js';

export function ReportsView() {
  const [items, setItems] = useState<{ name: string; modified: string }[]>();
  const [open, setOpen] = useState<{ name: string; markdown: string }>();
  useEffect(() => {
    api<{ items: { name: string; modified: string }[] }>('/api/v1/reports').then((r) => setItems(r.items));
  }, []);
  if (!items) return <Empty>Loading…</Empty>;
  const fileUrl = (name: string) => (file: string) =>
    `/api/v1/reports/${encodeURIComponent(name)}/files/${encodeURIComponent(file)}?access_token=${encodeURIComponent(getToken() ?? '')}`;
  return (
    <section className="split reports">
      <div className="pane narrow">
        <div className="toolbar">
          <h1>Evaluation reports</h1>
        </div>
        {items.length === 0 ? (
          <Empty>
            No report yet. <code>vigie eval syscalls --dataset adfa --data … --report reports/adfa</code>{' '}
            writes one.
          </Empty>
        ) : (
          <ul className="list">
            {items.map((r) => (
              <li key={r.name}>
                <button
                  className={open?.name === r.name ? 'link active' : 'link'}
                  onClick={() =>
                    api<{ name: string; markdown: string }>(
                      `/api/v1/reports/${encodeURIComponent(r.name)}`,
                    ).then(setOpen)
                  }
                >
                  {r.name}
                </button>
                <span className="muted small"> {new Date(r.modified).toLocaleDateString()}</span>
              </li>
            ))}
          </ul>
        )}
      </div>
      <div className="pane">
        {open ? (
          <Markdown text={open.markdown} imageUrl={fileUrl(open.name)} />
        ) : (
          <Empty>Pick a report.</Empty>
        )}
      </div>
    </section>
  );
}
