// The run's DAG: laid out by dagre, drawn as SVG; nodes coloured by status
// (CSS classes st-<Status>) and updated in place as events arrive.
import dagre from '@dagrejs/dagre';
import { svg, clear } from './dom.js';

const NODE_W = 170;
const NODE_H = 44;

// A running step's own progress report ({done, total, message}) as the node
// shows it: "63% epoch 3/4 loss 0.81" and the bar's fraction; null for none.
export function progressOf(p) {
  if (!p || typeof p.done !== 'number') return null;
  const total = typeof p.total === 'number' && p.total > 0 ? p.total : 0;
  const fraction = total ? Math.min(1, Math.max(0, p.done / total)) : 0;
  const percent = total ? Math.floor(fraction * 100) : null;
  const text = [percent === null ? `${p.done}` : `${percent}%`, p.message || ''].filter(Boolean).join(' ');
  return { fraction, percent, text: text.length > 24 ? `${text.slice(0, 23)}…` : text };
}

export class DagView {
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    this.shape = '';
    this.nodes = new Map();  // id -> <g>
    this.selected = null;
  }

  // DAG: {nodes: [{id, kind, status, instances, progress}], edges: [{from, to}]}
  update(dag) {
    const shape = JSON.stringify([dag.nodes.map((n) => n.id), dag.edges]);
    if (shape !== this.shape) {
      this.shape = shape;
      this.layout(dag);
    }
    for (const n of dag.nodes) {
      const g = this.nodes.get(n.id);
      if (!g) continue;
      g.setAttribute('class', `dag-node st-${n.status}${n.id === this.selected ? ' selected' : ''}`);
      g.dataset.status = n.status;
      const status = n.instances && n.instances.length > 1 ? `${n.status} ×${n.instances.length}` : n.status;
      const p = n.status === 'Running' ? progressOf(n.progress) : null;
      g.querySelector('.dag-status').textContent = p ? `${status} ${p.text}` : status;
      const bar = g.querySelector('.dag-progress');
      bar.setAttribute('width', p ? (p.fraction * (NODE_W - 2)).toFixed(1) : '0');
      bar.style.display = p ? '' : 'none';
      g.classList.toggle('has-progress', !!p);
      if (p) g.dataset.progress = p.percent === null ? '' : String(p.percent);
      else delete g.dataset.progress;
      g.querySelector('title').textContent =
        `${n.id} (${n.kind || 'step'})${p && n.progress.message ? `: ${n.progress.message}` : ''}`;
    }
  }

  select(id) {
    this.selected = id;
    for (const [nid, g] of this.nodes) g.classList.toggle('selected', nid === id);
  }

  layout(dag) {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'TB', nodesep: 30, ranksep: 40, marginx: 10, marginy: 10 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of dag.nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
    const ids = new Set(dag.nodes.map((n) => n.id));
    for (const e of dag.edges) if (ids.has(e.from) && ids.has(e.to)) g.setEdge(e.from, e.to);
    dagre.layout(g);
    const { width, height } = g.graph();
    const root = svg('svg', {
      class: 'dag', width: Math.max(width, 200), height: Math.max(height, 60),
      viewBox: `0 0 ${Math.max(width, 200)} ${Math.max(height, 60)}`, role: 'img', 'aria-label': 'workflow DAG',
    });
    root.appendChild(svg('defs', null, svg('marker', {
      id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse',
    }, svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'dag-arrow' }))));
    for (const e of g.edges()) {
      const pts = g.edge(e).points;
      const d = pts.map((p, i) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ');
      root.appendChild(svg('path', { d, class: 'dag-edge', 'marker-end': 'url(#arrow)' }));
    }
    this.nodes.clear();
    for (const n of dag.nodes) {
      const p = g.node(n.id);
      const label = n.id.length > 22 ? `${n.id.slice(0, 21)}…` : n.id;
      const node = svg('g', {
        class: `dag-node st-${n.status}`, transform: `translate(${p.x - NODE_W / 2},${p.y - NODE_H / 2})`,
        tabindex: 0, role: 'button', dataset: { step: n.id, status: n.status },
      },
      svg('title', { text: `${n.id} (${n.kind || 'step'})` }),
      svg('rect', { width: NODE_W, height: NODE_H, rx: 6, ry: 6 }),
      svg('circle', { cx: 14, cy: NODE_H / 2, r: 5, class: 'dag-dot' }),
      svg('text', { x: 26, y: 18, class: 'dag-name', text: label }),
      svg('text', { x: 26, y: 34, class: 'dag-status', text: n.status }),
      svg('rect', { x: 1, y: NODE_H - 5, width: 0, height: 4, rx: 2, class: 'dag-progress' }));
      node.addEventListener('click', () => this.onSelect(n.id));
      node.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') this.onSelect(n.id); });
      this.nodes.set(n.id, node);
      root.appendChild(node);
    }
    clear(this.container).appendChild(root);
  }
}
