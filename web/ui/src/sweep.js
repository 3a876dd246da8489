// A sweep on the run page, from the run document's `sweeps` (web/sweep_view.h):
// its trials as a table (parameters, status, objective, steps reached), the
// objective over trials with the best so far, and parallel coordinates: one
// axis a parameter (log-scaled where the sweep says `scale: log`) plus the
// objective, one polyline a trial, coloured by its objective.
import { h, svg, fmtValue, statusBadge } from './dom.js';
import { lineChart } from './charts.js';

// The objective chart's points: a finished trial in the chart's colour, a stopped one grey, a running one pale.
const POINT_COLOR = { Succeeded: '#2563eb', Stopped: '#94a3b8', Running: '#93c5fd', Cancelled: '#d97706' };
const NO_OBJECTIVE = '#cbd5e1';

// Viridis, from the lowest objective to the highest.
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
export function rampColor(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0.5)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const c = RAMP[i].map((a, k) => Math.round(a + (RAMP[i + 1][k] - a) * f));
  return `rgb(${c.join(',')})`;
}

// The best objective so far, in trial order, over the trials that have one.
export function bestSoFar(trials, goal) {
  const better = goal === 'minimize' ? (a, b) => a < b : (a, b) => a > b;
  const out = [];
  let best = null;
  for (const t of trials) {
    if (typeof t.objective !== 'number') continue;
    if (best === null || better(t.objective, best)) best = t.objective;
    out.push({ x: t.index, y: best });
  }
  return out;
}

const tickText = (v) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)
  ? v.toExponential(1).replace('.0e', 'e') : String(+v.toPrecision(3)));

// A numeric axis: at(v) is 0 (bottom) to 1 (top), null for a value it cannot place.
function numericAxis(name, values, lo, hi, log) {
  const usable = values.filter((v) => typeof v === 'number' && Number.isFinite(v) && (!log || v > 0));
  if (typeof lo === 'number' && (!log || lo > 0)) usable.push(lo);
  if (typeof hi === 'number' && (!log || hi > 0)) usable.push(hi);
  const f = log ? Math.log10 : (x) => x;
  let a = usable.length ? f(Math.min(...usable)) : 0;
  let b = usable.length ? f(Math.max(...usable)) : 1;
  if (a === b) { a -= 0.5; b += 0.5; }
  const at = (v) => (typeof v === 'number' && Number.isFinite(v) && (!log || v > 0) ? (f(v) - a) / (b - a) : null);
  let ticks = [];
  if (log) {
    for (let k = Math.ceil(a - 1e-9); k <= Math.floor(b + 1e-9); k++) ticks.push(10 ** k);
    if (ticks.length < 2) ticks = [10 ** a, 10 ** b];
  } else {
    for (let i = 0; i <= 4; i++) ticks.push(a + (b - a) * (i / 4));
  }
  return { name, scale: log ? 'log' : 'linear', at, ticks: ticks.map((v) => ({ at: at(v), text: tickText(v) })) };
}

function categoricalAxis(name, declared, values) {
  const cats = [];
  const pos = new Map();
  for (const v of [...(declared || []), ...values]) {
    const k = JSON.stringify(v);
    if (!pos.has(k)) { pos.set(k, 0); cats.push(v); }
  }
  cats.forEach((v, i) => pos.set(JSON.stringify(v), cats.length > 1 ? i / (cats.length - 1) : 0.5));
  const at = (v) => (v === undefined ? null : pos.get(JSON.stringify(v)) ?? null);
  return { name, scale: 'categorical', at, ticks: cats.map((v) => ({ at: at(v), text: fmtValue(v) })) };
}

// The axes of a sweep: its parameters in the order written, then the objective.
export function sweepAxes(sw) {
  const trials = sw.trials || [];
  const axes = (sw.parameters || []).map((p) => {
    const vals = trials.map((t) => (t.params || {})[p.name]).filter((v) => v !== undefined);
    const numeric = p.kind !== 'categorical' && vals.every((v) => typeof v === 'number');
    return numeric ? numericAxis(p.name, vals, p.min, p.max, p.scale === 'log') : categoricalAxis(p.name, p.values, vals);
  });
  const objective = numericAxis(sw.metric || 'objective', trials.map((t) => t.objective), null, null, false);
  objective.objective = true;
  return [...axes, objective];
}

// Drawn at about 1:1 in its box: a fixed width, the axes spread over it.
const WIDTH = 760, H = 330, TOP = 44, BOTTOM = 26, LEFT = 70, RIGHT = 40;

export function parallelCoordinates(sw) {
  const axes = sweepAxes(sw);
  const trials = sw.trials || [];
  const width = WIDTH;
  const x = (i) => LEFT + i * ((WIDTH - LEFT - RIGHT) / Math.max(1, axes.length - 1));
  const y = (t) => TOP + (1 - t) * (H - TOP - BOTTOM);
  const objAxis = axes[axes.length - 1];
  const gradId = `pc-ramp-${String(sw.step).replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const lines = svg('g', { class: 'pc-lines' });
  // The best trial last, so it is drawn on top.
  const order = [...trials].sort((a, b) => (a.index === sw.best_trial) - (b.index === sw.best_trial));
  for (const t of order) {
    let d = '';
    let pen = false;
    axes.forEach((ax, i) => {
      const at = ax.objective ? ax.at(t.objective) : ax.at((t.params || {})[ax.name]);
      if (at === null) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(at).toFixed(1)}`;
      pen = true;
    });
    const has = typeof t.objective === 'number';
    const best = t.index === sw.best_trial;
    const params = Object.entries(t.params || {}).map(([k, v]) => `${k}=${fmtValue(v)}`).join(' ');
    lines.appendChild(svg('path', {
      class: `pc-line st-${t.status}${best ? ' best' : ''}${has ? '' : ' no-objective'}`, d,
      stroke: has ? rampColor(objAxis.at(t.objective)) : NO_OBJECTIVE, 'stroke-width': best ? 4 : 2, fill: 'none',
      'data-trial': t.index, 'data-status': t.status, 'data-objective': has ? t.objective : '',
    }, svg('title', { text: `${t.name} (${t.status}): ${params}; ${sw.metric || 'objective'} ${has ? fmtValue(t.objective) : '—'}` })));
  }
  const axisEls = axes.map((ax, i) => svg('g', { class: `pc-axis${ax.objective ? ' objective' : ''}`, 'data-axis': ax.name, 'data-scale': ax.scale },
    ax.objective ? svg('rect', { x: x(i) - 4, y: y(1), width: 8, height: y(0) - y(1), fill: `url(#${gradId})`, rx: 2 }) : null,
    svg('line', { x1: x(i), x2: x(i), y1: y(0), y2: y(1), stroke: '#475569', 'stroke-width': 1.2 }),
    svg('text', { x: x(i), y: TOP - 22, 'text-anchor': 'middle', class: 'pc-name', text: ax.name }),
    svg('text', { x: x(i), y: TOP - 8, 'text-anchor': 'middle', class: 'pc-scale', text: ax.objective ? `${sw.goal || ''}` : ax.scale }),
    ax.ticks.filter((tk) => tk.at !== null && tk.at >= -1e-9 && tk.at <= 1 + 1e-9).map((tk) => [
      svg('line', { x1: x(i) - 4, x2: x(i), y1: y(tk.at), y2: y(tk.at), stroke: '#475569' }),
      svg('text', { x: x(i) - 7, y: y(tk.at) + 4, 'text-anchor': 'end', class: 'pc-tick', text: tk.text }),
    ])));
  const grad = svg('linearGradient', { id: gradId, x1: 0, y1: 1, x2: 0, y2: 0 },
    [0, 0.25, 0.5, 0.75, 1].map((o) => svg('stop', { offset: o, 'stop-color': rampColor(o) })));
  return h('figure', { class: 'parcoords-box' },
    h('figcaption', { text: `Parallel coordinates: one line a trial, coloured by ${sw.metric || 'objective'} (yellow high, purple low)` }),
    svg('svg', { class: 'parcoords', viewBox: `0 0 ${width} ${H}`, width, height: H, role: 'img', 'aria-label': `${sw.step} parallel coordinates` },
      svg('defs', null, grad), lines, axisEls));
}

function trialsTable(sw, onPick) {
  const names = (sw.parameters || []).map((p) => p.name);
  const metric = sw.metric || 'objective';
  return h('table', { class: 'grid small sweep-trials', dataset: { step: sw.step } },
    h('thead', null, h('tr', null, ['Trial', 'Status', ...names, metric, 'Steps reached'].map((t) => h('th', { text: t })))),
    h('tbody', null, (sw.trials || []).map((t) => {
      const best = t.index === sw.best_trial;
      const obj = typeof t.objective === 'number' ? `${fmtValue(t.objective)}${t.live ? ' (live)' : ''}` : '—';
      return h('tr', {
        class: best ? 'best' : '', dataset: { trial: String(t.index), status: t.status }, title: t.message || '',
        onclick: () => onPick && onPick(t.name),
      },
      h('td', { class: 'mono' }, t.name, best ? h('span', { class: 'best-mark', text: ' best' }) : null),
      h('td', null, statusBadge(t.status)),
      names.map((n) => h('td', { class: 'mono', text: t.params && n in t.params ? fmtValue(t.params[n]) : '—' })),
      h('td', { class: 'objective', text: obj }),
      h('td', { class: 'steps', text: t.steps_reached ?? '—' }));
    })));
}

// One sweep's section; ONPICK(instance) selects a trial's step panel.
export function sweepView(sw, onPick) {
  const trials = sw.trials || [];
  const metric = sw.metric || 'objective';
  const best = trials.find((t) => t.index === sw.best_trial);
  const counts = {};
  for (const t of trials) counts[t.status] = (counts[t.status] || 0) + 1;
  const summary = [
    `${trials.length} trial${trials.length === 1 ? '' : 's'} (${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ')})`,
    sw.method ? `${sw.method} search` : null,
    sw.goal ? `${sw.goal} ${metric}` : null,
    best ? `best ${best.name}: ${metric} ${fmtValue(sw.best_value)}` : null,
  ].filter(Boolean).join(' · ');
  const points = trials.filter((t) => typeof t.objective === 'number').map((t) => ({ x: t.index, y: t.objective }));
  const colors = trials.filter((t) => typeof t.objective === 'number').map((t) => POINT_COLOR[t.status] || '#2563eb');
  const chart = lineChart(`${metric} by trial`, [
    { label: metric, points, line: false, pointColors: colors },
    { label: 'best so far', points: bestSoFar(trials, sw.goal), stepped: true },
  ], { xLabel: 'trial', yLabel: metric, legend: true });
  chart.classList.add('sweep-objective');
  return h('div', { class: 'sweep', dataset: { step: sw.step } },
    h('h3', { text: `Sweep ${sw.step}` }),
    h('p', { class: 'muted sweep-summary', text: summary }),
    trialsTable(sw, onPick),
    h('div', { class: 'sweep-charts' }, chart, parallelCoordinates(sw)));
}
