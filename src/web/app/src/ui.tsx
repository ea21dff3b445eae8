import type { ReactNode } from 'react';

export function PriorityBadge({ p }: { p: string }) {
  return <span className={`badge prio-${p.toLowerCase()}`}>{p}</span>;
}

export function CategoryBadge({ c }: { c: string }) {
  return <span className={`badge cat-${c}`}>{c}</span>;
}

export function StatusBadge({ s }: { s: string }) {
  return (
    <span className={`badge status-${s}`} data-testid="status">
      {s.replace('_', ' ')}
    </span>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="field">
      <div className="field-label">{label}</div>
      <div className="field-value">{children}</div>
    </div>
  );
}

export function timeAgo(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(iso).toLocaleString();
}

/** A tiny inline sparkline; values are scaled to their own min/max. */
export function Sparkline({
  values,
  width = 120,
  height = 28,
}: {
  values: number[];
  width?: number;
  height?: number;
}) {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length < 2) return <span className="muted">—</span>;
  const min = Math.min(...v);
  const max = Math.max(...v);
  const span = max - min || 1;
  const pts = v
    .map((x, i) => `${(i / (v.length - 1)) * width},${height - 2 - ((x - min) / span) * (height - 4)}`)
    .join(' ');
  return (
    <svg width={width} height={height} className="spark" aria-label="trend">
      <polyline points={pts} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}

export interface GraphNode {
  id: string;
  label?: string;
  kind?: string;
}
export interface GraphEdge {
  from: string;
  to: string;
  label?: string;
}

/** Radial layout: the first node in the middle, the others around it. Enough for a blast radius. */
export function SmallGraph({ nodes, edges }: { nodes: GraphNode[]; edges: GraphEdge[] }) {
  if (nodes.length === 0) return <Empty>No reachable resources recorded.</Empty>;
  const W = 520;
  const H = 300;
  const pos = new Map<string, { x: number; y: number }>();
  pos.set(nodes[0].id, { x: W / 2, y: H / 2 });
  const rest = nodes.slice(1);
  rest.forEach((n, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, rest.length);
    pos.set(n.id, { x: W / 2 + Math.cos(a) * (W / 2 - 80), y: H / 2 + Math.sin(a) * (H / 2 - 30) });
  });
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="graph" data-testid="blast-graph">
      {edges.map((e, i) => {
        const a = pos.get(e.from);
        const b = pos.get(e.to);
        if (!a || !b) return null;
        return (
          <g key={i}>
            <line x1={a.x} y1={a.y} x2={b.x} y2={b.y} className="edge" />
            {e.label && (
              <text x={(a.x + b.x) / 2} y={(a.y + b.y) / 2 - 3} className="edge-label">
                {e.label}
              </text>
            )}
          </g>
        );
      })}
      {nodes.map((n, i) => {
        const p = pos.get(n.id)!;
        return (
          <g key={n.id}>
            <circle cx={p.x} cy={p.y} r={i === 0 ? 10 : 7} className={`node node-${n.kind ?? 'other'}`} />
            <text x={p.x} y={p.y + 20} className="node-label" textAnchor="middle">
              {(n.label ?? n.id).slice(0, 28)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

/** Minimal Markdown for evaluation reports: headings, paragraphs, tables, images, code. */
export function Markdown({ text, imageUrl }: { text: string; imageUrl: (file: string) => string }) {
  const out: ReactNode[] = [];
  const lines = text.split('\n');
  let i = 0;
  let key = 0;
  const inline = (s: string): ReactNode => {
    const parts: ReactNode[] = [];
    const re = /!\[([^\]]*)\]\(([^)]+)\)|`([^`]+)`|\*\*([^*]+)\*\*/g;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(s))) {
      parts.push(s.slice(last, m.index));
      if (m[2] !== undefined) {
        const src = /^https?:/.test(m[2]) ? m[2] : imageUrl(m[2].replace(/^\.\//, ''));
        parts.push(<img key={key++} src={src} alt={m[1]} className="report-img" />);
      } else if (m[3] !== undefined) parts.push(<code key={key++}>{m[3]}</code>);
      else parts.push(<strong key={key++}>{m[4]}</strong>);
      last = re.lastIndex;
    }
    parts.push(s.slice(last));
    return parts;
  };
  while (i < lines.length) {
    const l = lines[i];
    if (/^```/.test(l)) {
      const buf: string[] = [];
      i++;
      while (i < lines.length && !/^```/.test(lines[i])) buf.push(lines[i++]);
      i++;
      out.push(<pre key={key++}>{buf.join('\n')}</pre>);
    } else if (/^#{1,4} /.test(l)) {
      const level = l.match(/^#+/)![0].length;
      const H = `h${Math.min(level + 1, 5)}` as 'h2';
      out.push(<H key={key++}>{inline(l.replace(/^#+ /, ''))}</H>);
      i++;
    } else if (/^\|/.test(l)) {
      const rows: string[][] = [];
      while (i < lines.length && /^\|/.test(lines[i])) {
        const cells = lines[i]
          .trim()
          .replace(/^\||\|$/g, '')
          .split('|')
          .map((c) => c.trim());
        if (!cells.every((c) => /^:?-+:?$/.test(c))) rows.push(cells);
        i++;
      }
      out.push(
        <table key={key++} className="md-table">
          <thead>
            <tr>
              {rows[0]?.map((c, j) => (
                <th key={j}>{inline(c)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.slice(1).map((r, ri) => (
              <tr key={ri}>
                {r.map((c, j) => (
                  <td key={j}>{inline(c)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>,
      );
    } else if (l.trim() === '') i++;
    else {
      const buf: string[] = [];
      while (i < lines.length && lines[i].trim() !== '' && !/^(#|\||```)/.test(lines[i]))
        buf.push(lines[i++]);
      out.push(<p key={key++}>{inline(buf.join(' '))}</p>);
    }
  }
  return <div className="markdown">{out}</div>;
}
