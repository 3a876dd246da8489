// Metric charts (Chart.js), the confusion-matrix heatmap, and the Kubeflow
// mlpipeline-ui-metadata / mlpipeline-metrics renderers.
import {
  Chart, LineController, ScatterController, LineElement, PointElement, LinearScale, Legend, Tooltip, Title,
} from 'chart.js';
import { h, fmtValue } from './dom.js';

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, Legend, Tooltip, Title);

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
export const color = (i) => PALETTE[i % PALETTE.length];

// SERIES: [{label, points: [{x, y}]}], each optionally with line: false (points
// only), stepped: true, and pointColors (one colour a point). Returns the
// element holding the chart.
export function lineChart(title, series, opts = {}) {
  const canvas = h('canvas', { 'aria-label': `${title} chart`, role: 'img' });
  const box = h('div', { class: 'chart', dataset: { metric: title } }, canvas);
  const chart = new Chart(canvas, {
    type: 'line',
    data: {
      datasets: series.map((s, i) => ({
        label: s.label, data: s.points, borderColor: color(i), backgroundColor: color(i),
        pointBackgroundColor: s.pointColors || color(i), pointBorderColor: s.pointColors || color(i),
        borderWidth: 2, pointRadius: s.points.length > 60 ? 0 : (s.line === false ? 5 : 3), tension: 0,
        showLine: s.line !== false, stepped: s.stepped ? 'after' : false,
      })),
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
      plugins: { title: { display: true, text: title }, legend: { display: series.length > 1 || !!opts.legend } },
      scales: {
        x: { type: 'linear', title: { display: true, text: opts.xLabel || 'epoch' } },
        y: { type: 'linear', title: { display: !!opts.yLabel, text: opts.yLabel || '' } },
      },
    },
  });
  box.chart = chart;
  return box;
}

// Groups metric points by name: {name: [{label, points}]}, one series per
// (run, step). RUNS: [{id, points}].
export function seriesByMetric(runs) {
  const out = new Map();
  for (const run of runs) {
    const groups = new Map();
    for (const p of run.points) {
      if (p.kind !== 'series') continue;
      const key = `${p.name}\u0000${p.step}`;
      if (!groups.has(key)) groups.set(key, { name: p.name, step: p.step, points: [] });
      groups.get(key).points.push({ x: p.index, y: p.value });
    }
    for (const g of groups.values()) {
      g.points.sort((a, b) => a.x - b.x);
      if (!out.has(g.name)) out.set(g.name, []);
      const label = runs.length > 1 ? `${run.id} ${g.step}` : g.step;
      out.get(g.name).push({ label, points: g.points });
    }
  }
  return out;
}

// A confusion matrix as a heatmap table: rows are true labels, columns predicted.
export function confusionHeatmap(title, labels, counts) {
  const n = labels.length;
  let max = 0;
  for (const c of counts) max = Math.max(max, c);
  const head = h('tr', null, h('th', { class: 'corner', text: 'true \\ predicted' }),
    labels.map((l) => h('th', { scope: 'col', text: l })));
  const rows = [];
  for (let r = 0; r < n; r++) {
    const cells = [];
    for (let c = 0; c < n; c++) {
      const v = counts[r * n + c] || 0;
      const t = max ? v / max : 0;
      const cell = h('td', { text: String(v), title: `true ${labels[r]}, predicted ${labels[c]}: ${v}` });
      cell.style.backgroundColor = `rgba(${r === c ? '37,99,235' : '220,38,38'},${(0.06 + 0.9 * t).toFixed(3)})`;
      if (t > 0.55) cell.style.color = '#fff';
      cells.push(cell);
    }
    rows.push(h('tr', null, h('th', { scope: 'row', text: labels[r] }), cells));
  }
  let correct = 0, total = 0;
  for (let i = 0; i < n; i++) correct += counts[i * n + i] || 0;
  for (const c of counts) total += c;
  return h('figure', { class: 'confusion-box' },
    h('figcaption', { text: `${title}${total ? ` — accuracy ${(100 * correct / total).toFixed(2)}%` : ''}` }),
    h('table', { class: 'confusion' }, h('thead', null, head), h('tbody', null, rows)));
}

function parseCsv(text) {
  const rows = [];
  for (const line of String(text).split(/\r?\n/)) {
    if (!line.trim()) continue;
    const cells = [];
    let cur = '', q = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (q) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') q = false; else cur += ch;
      } else if (ch === '"') q = true;
      else if (ch === ',') { cells.push(cur); cur = ''; } else cur += ch;
    }
    cells.push(cur);
    rows.push(cells);
  }
  return rows;
}

// A small Markdown subset (headings, lists, emphasis, code, paragraphs), built
// as DOM nodes: text stays text.
export function markdown(src) {
  const root = h('div', { class: 'markdown' });
  let list = null;
  const inline = (text) => {
    const out = [];
    const re = /(\*\*[^*]+\*\*|`[^`]+`|\*[^*]+\*)/g;
    let last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) out.push(text.slice(last, m.index));
      const t = m[0];
      if (t.startsWith('**')) out.push(h('strong', { text: t.slice(2, -2) }));
      else if (t.startsWith('`')) out.push(h('code', { text: t.slice(1, -1) }));
      else out.push(h('em', { text: t.slice(1, -1) }));
      last = m.index + t.length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  };
  for (const line of String(src).split(/\r?\n/)) {
    const hm = /^(#{1,6})\s+(.*)$/.exec(line);
    const lm = /^\s*[-*]\s+(.*)$/.exec(line);
    if (lm) {
      if (!list) { list = h('ul'); root.appendChild(list); }
      list.appendChild(h('li', null, inline(lm[1])));
      continue;
    }
    list = null;
    if (hm) root.appendChild(h(`h${Math.min(6, hm[1].length + 2)}`, null, inline(hm[2])));
    else if (line.trim()) root.appendChild(h('p', null, inline(line)));
  }
  return root;
}

function table(header, rows) {
  return h('table', { class: 'grid kfp-table' },
    header && header.length ? h('thead', null, h('tr', null, header.map((c) => h('th', { text: c })))) : null,
    h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', { text: c }))))));
}

// Renders one mlpipeline-ui-metadata document ({"outputs": [...]}) the way
// Kubeflow Pipelines shows it.
export function renderUiMetadata(doc) {
  const box = h('div', { class: 'kfp-outputs' });
  const outputs = (doc && Array.isArray(doc.outputs)) ? doc.outputs : [];
  for (const o of outputs) {
    const type = String(o.type || '');
    const inline = o.storage === 'inline';
    const card = h('div', { class: 'kfp-output', dataset: { type } }, h('h4', { text: type }));
    if (!inline) {
      card.appendChild(h('p', { class: 'muted', text: `not inline: ${o.source || ''} (only inline sources are shown here)` }));
    } else if (type === 'confusion_matrix') {
      const labels = (o.labels || []).map(String);
      const idx = new Map(labels.map((l, i) => [l, i]));
      const counts = new Array(labels.length * labels.length).fill(0);
      for (const [t, p, c] of parseCsv(o.source)) {
        if (idx.has(t) && idx.has(p)) counts[idx.get(t) * labels.length + idx.get(p)] += Number(c) || 0;
      }
      card.appendChild(confusionHeatmap('confusion matrix', labels, counts));
    } else if (type === 'roc') {
      const pts = parseCsv(o.source).map((r) => ({ x: Number(r[0]), y: Number(r[1]) }));
      card.appendChild(lineChart('ROC', [{ label: 'ROC', points: pts }], { xLabel: 'false positive rate', yLabel: 'true positive rate' }));
    } else if (type === 'table') {
      card.appendChild(table((o.header || []).map(String), parseCsv(o.source)));
    } else if (type === 'markdown') {
      card.appendChild(markdown(o.source));
    } else if (type === 'web-app') {
      // Kubeflow shows these in a sandboxed frame; no scripts, no same-origin.
      const frame = h('iframe', { sandbox: '', class: 'kfp-webapp', title: 'web-app output' });
      frame.srcdoc = String(o.source || '');
      card.appendChild(frame);
    } else {
      card.appendChild(h('p', { class: 'muted', text: `${type}: ${o.source || ''}` }));
    }
    box.appendChild(card);
  }
  return box;
}

// mlpipeline-metrics: {"metrics": [{name, numberValue, format}]}.
export function renderKfpMetrics(doc) {
  const rows = ((doc && doc.metrics) || []).map((m) => [String(m.name),
    m.format === 'PERCENTAGE' ? `${(100 * Number(m.numberValue)).toFixed(2)}%` : fmtValue(m.numberValue)]);
  return table(['metric', 'value'], rows);
}
