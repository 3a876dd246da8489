// The ctflow dashboard: a hash-routed single page over the JSON API.
//   #/runs            runs list (filters, pages of 100, live)
//   #/run/ID          one run: DAG, step details and log, sweeps, metrics, confusions
//   #/compare?runs=a,b metrics of several runs overlaid, params side by side
//   #/models          the model registry, with promote
//   #/triggers        trigger firings (ctflow daemon): outcome, run, reason
//   #/drift           per model, drift scores over time (overall, per signal) and the threshold
//   #/submit          start a run of a workflow with params
import * as api from './api.js';
import { h, add, clear, fmtTime, fmtDuration, fmtBytes, fmtValue, statusBadge, artifactUrl } from './dom.js';
import { DagView } from './dag.js';
import { lineChart, seriesByMetric, confusionHeatmap, renderUiMetadata, renderKfpMetrics } from './charts.js';
import { sweepView } from './sweep.js';

const app = document.getElementById('app');
let cleanup = [];

function toast(msg, isError) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.className = `toast${isError ? ' error' : ''}`;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

function errorBox(e) {
  return h('div', { class: 'error-box', text: e && e.message ? e.message : String(e) });
}

function route() {
  for (const fn of cleanup) fn();
  cleanup = [];
  clear(app);
  const hash = window.location.hash.replace(/^#/, '') || '/runs';
  const [path, qs] = hash.split('?');
  const params = new URLSearchParams(qs || '');
  const parts = path.split('/').filter(Boolean);
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === parts[0]);
  if (parts[0] === 'run' && parts[1]) return runPage(decodeURIComponent(parts[1]));
  if (parts[0] === 'compare') return comparePage((params.get('runs') || '').split(',').filter(Boolean));
  if (parts[0] === 'models') return modelsPage();
  if (parts[0] === 'triggers') return triggersPage();
  if (parts[0] === 'drift') return driftPage();
  if (parts[0] === 'submit') return submitPage(params.get('workflow'));
  return runsPage(params);
}

// ---------------------------------------------------------------- runs list
const STATUSES = ['', 'Running', 'Succeeded', 'Failed', 'Errored', 'Cancelled'];
const PAGE = 100;

function runsPage(params) {
  const state = { status: params.get('status') || '', workflow: params.get('workflow') || '', page: 0, runs: [] };
  const selected = new Set();
  const statusSel = h('select', { 'aria-label': 'status filter', onchange: () => { state.status = statusSel.value; state.page = 0; load(); } },
    STATUSES.map((s) => h('option', { value: s, text: s || 'any status' })));
  statusSel.value = state.status;
  const wfInput = h('input', { type: 'search', placeholder: 'workflow', 'aria-label': 'workflow filter', value: state.workflow });
  let debounce = null;
  wfInput.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { state.workflow = wfInput.value.trim(); state.page = 0; load(); }, 250);
  });
  const compareBtn = h('button', { disabled: true, onclick: () => { location.hash = `#/compare?runs=${[...selected].map(api.enc).join(',')}`; } }, 'Compare selected');
  const count = h('span', { class: 'muted' });
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  app.append(
    h('div', { class: 'toolbar' }, h('h2', { text: 'Runs' }), statusSel, wfInput, compareBtn, count),
    h('table', { class: 'grid runs', id: 'runs-table' },
      h('thead', null, h('tr', null, h('th', { text: '' }), ['Run', 'Workflow', 'Status', 'Started', 'Duration', 'Params'].map((t) => h('th', { text: t })))),
      tbody),
    pager);

  function render() {
    const start = state.page * PAGE;
    const rows = state.runs.slice(start, start + PAGE);
    const total = state.partial ? PAGE : state.runs.length;
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const cb = h('input', { type: 'checkbox', 'aria-label': `select ${r.id}`, checked: selected.has(r.id) });
      cb.addEventListener('change', () => {
        if (cb.checked) selected.add(r.id); else selected.delete(r.id);
        compareBtn.disabled = selected.size < 1;
      });
      frag.appendChild(h('tr', { dataset: { run: r.id, status: r.status } },
        h('td', null, cb),
        h('td', null, h('a', { href: `#/run/${api.enc(r.id)}`, class: 'mono', text: r.id })),
        h('td', { text: r.workflow }),
        h('td', null, statusBadge(r.status)),
        h('td', { text: fmtTime(r.started_at) }),
        h('td', { text: fmtDuration(r.duration_s) }),
        h('td', { class: 'params mono', text: Object.entries(r.params || {}).map(([k, v]) => `${k}=${fmtValue(v)}`).join(' ') })));
    }
    clear(tbody).appendChild(frag);
    const pages = Math.max(1, Math.ceil(total / PAGE));
    count.textContent = state.partial ? `${PAGE}+ runs` : `${state.runs.length} run${state.runs.length === 1 ? '' : 's'}`;
    clear(pager).append(
      h('button', { disabled: state.page === 0, onclick: () => { state.page--; render(); } }, '‹ Newer'),
      h('span', { text: ` page ${state.page + 1} of ${pages} ` }),
      h('button', { disabled: state.page >= pages - 1, onclick: () => { state.page++; render(); } }, 'Older ›'));
  }

  let generation = 0;
  async function load() {
    const gen = ++generation;
    const q = new URLSearchParams();
    if (state.status) q.set('status', state.status);
    if (state.workflow) q.set('workflow', state.workflow);
    try {
      // The first page at once, then the rest for paging.
      if (state.page === 0) {
        q.set('limit', String(PAGE + 1));
        const first = await api.get(`/runs?${q}`);
        if (gen !== generation) return;
        state.runs = first;
        state.partial = first.length > PAGE;
        render();
        if (!state.partial) return;
      }
      q.set('limit', '100000');
      const all = await api.get(`/runs?${q}`);
      if (gen !== generation) return;
      state.runs = all;
      state.partial = false;
      render();
    } catch (e) { clear(tbody).appendChild(h('tr', null, h('td', { colspan: 7 }, errorBox(e)))); }
  }
  load();
  let pending = null;
  cleanup.push(api.events('', { runs: () => { clearTimeout(pending); pending = setTimeout(load, 200); } }));
  cleanup.push(() => clearTimeout(pending));
}

// ---------------------------------------------------------------- run page
function kv(rows) {
  return h('table', { class: 'kv' }, h('tbody', null, rows.filter(Boolean).map(([k, v]) =>
    h('tr', null, h('th', { text: k }), h('td', null, v instanceof Node ? v : String(v ?? ''))))));
}

function valueTable(obj, emptyText) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h('p', { class: 'muted', text: emptyText });
  return h('table', { class: 'grid small' }, h('tbody', null, entries.map(([k, v]) =>
    h('tr', null, h('th', { text: k }), h('td', null, h('pre', { class: 'value', text: fmtValue(v) }))))));
}

function runPage(id) {
  let run = null;
  let selectedStep = null;
  let logFollow = null;
  let metricsKey = '';
  const header = h('section', { class: 'run-header' });
  const dagBox = h('div', { class: 'dag-box', id: 'dag' });
  const stepBox = h('section', { class: 'step-panel', id: 'step-panel' },
    h('p', { class: 'muted', text: 'Click a step to see its details and log.' }));
  const metricsBox = h('section', { class: 'metrics', id: 'metrics' });
  const kfpBox = h('section', { class: 'kfp', id: 'kfp' });
  const sweepsBox = h('section', { class: 'sweeps', id: 'sweeps' });
  let sweepsKey = '';
  app.append(header, h('div', { class: 'run-body' }, h('section', { class: 'dag-section' }, h('h3', { text: 'DAG' }), dagBox), stepBox),
    sweepsBox, h('h3', { text: 'Metrics' }), metricsBox, kfpBox);
  const dag = new DagView(dagBox, (step) => selectStep(step));

  function renderHeader() {
    const running = run.status === 'Running';
    const actions = h('div', { class: 'actions' },
      running ? h('button', { class: 'danger', id: 'cancel-btn', onclick: cancel }, 'Cancel') : null,
      !running && run.status !== 'Succeeded' ? h('button', { id: 'resume-btn', onclick: resume }, 'Resume') : null,
      h('a', { class: 'button', href: `#/compare?runs=${api.enc(run.id)}` }, 'Compare…'));
    clear(header).append(
      h('div', { class: 'title-row' }, h('h2', { class: 'mono', text: run.id }), statusBadge(run.status), actions),
      kv([
        ['Workflow', `${run.workflow}${run.file ? ` (${run.file})` : ''}`],
        ['Started', fmtTime(run.started_at)],
        ['Finished', fmtTime(run.finished_at) || '—'],
        ['Duration', fmtDuration(run.duration_s)],
        ['Params', h('span', { class: 'mono', text: Object.entries(run.params || {}).map(([k, v]) => `${k}=${fmtValue(v)}`).join('  ') || '—' })],
        run.message ? ['Message', h('span', { class: 'message', text: run.message })] : null,
      ]));
  }

  async function cancel() {
    try { await api.post(`/runs/${api.enc(run.id)}/cancel`); toast('Cancelling…'); } catch (e) { toast(e.message, true); }
  }
  async function resume() {
    try { await api.post(`/runs/${api.enc(run.id)}/resume`); toast('Resuming…'); } catch (e) { toast(e.message, true); }
  }

  function instancesOf(stepId) {
    const node = run.dag.nodes.find((n) => n.id === stepId);
    const names = node && node.instances && node.instances.length ? node.instances : [stepId];
    return names;
  }

  function selectStep(stepId, instance) {
    selectedStep = { step: stepId, instance: instance || instancesOf(stepId)[0] };
    dag.select(stepId);
    renderStep(true);
  }

  function renderStep(fresh) {
    if (!selectedStep) return;
    const node = run.dag.nodes.find((n) => n.id === selectedStep.step) || { with: {} };
    const s = run.steps.find((x) => x.name === selectedStep.instance);
    const names = instancesOf(selectedStep.step);
    const picker = names.length > 1 ? h('select', {
      'aria-label': 'instance', onchange: (e) => selectStep(selectedStep.step, e.target.value),
    }, names.map((n) => h('option', { value: n, text: n }))) : null;
    if (picker) picker.value = selectedStep.instance;
    const same = stepBox.dataset.step === selectedStep.instance && stepBox.querySelector('.log');
    if (!fresh && same && (stepBox.dataset.hasRecord === '1' || !s)) {
      // Live refresh: update the details, keep the log (it follows by itself).
      const details = stepBox.querySelector('.step-details');
      if (details) details.replaceWith(stepDetails(node, s));
      if (s && logFollow) logFollow.status = s.status;
      return;
    }
    stopLog();
    stepBox.dataset.step = selectedStep.instance;
    stepBox.dataset.hasRecord = s ? '1' : '0';
    const logPre = h('pre', { class: 'log', id: 'log', text: '' });
    clear(stepBox).append(
      h('div', { class: 'title-row' }, h('h3', { text: selectedStep.instance }), s ? statusBadge(s.status) : statusBadge('Pending'), picker),
      stepDetails(node, s),
      h('h4', { text: 'Log' }), logPre);
    if (s) followLog(s.name, logPre, s.status);
    else logPre.textContent = '(not started)';
  }

  function stepDetails(node, s) {
    const box = h('div', { class: 'step-details' });
    if (!s) {
      add(box, kv([['Kind', node.kind || ''], ['Status', 'not started']]), h('h4', { text: 'Params' }), valueTable(node.with, 'none'));
      return box;
    }
    const arts = Object.entries(s.artifacts || {});
    add(box,
      kv([
        ['Kind', node.kind || ''],
        s.trial ? ['Trial', h('span', { class: 'mono', text: Object.entries(s.trial).map(([k, v]) => `${k}=${fmtValue(v)}`).join('  ') })] : null,
        ['Started', fmtTime(s.started_at)],
        ['Finished', fmtTime(s.finished_at) || '—'],
        ['Attempts', String(s.attempts)],
        ['Cached', s.cached ? 'yes' : 'no'],
        ['Exit code', String(s.exit_code ?? '')],
        s.message ? ['Message', h('span', { class: 'message', text: s.message })] : null,
      ]),
      h('h4', { text: 'Params' }), valueTable(node.with, 'none'),
      h('h4', { text: 'Outputs' }), valueTable(s.outputs, 'none'),
      Object.keys(s.metrics || {}).length ? [h('h4', { text: 'Metrics' }), valueTable(s.metrics, '')] : null,
      h('h4', { text: 'Artifacts' }),
      arts.length ? h('table', { class: 'grid small artifacts' }, h('tbody', null, arts.map(([name, a]) => {
        const url = artifactUrl(a.digest);
        return h('tr', null, h('th', { text: name }), h('td', { text: a.kind === 'dir' ? `dir, ${fmtBytes(a.size)}` : fmtBytes(a.size) }),
          h('td', null, url ? h('a', { href: url, class: 'mono', download: `${name}`, title: a.digest, text: `${a.digest.slice(0, 19)}…` }) : ''));
      }))) : h('p', { class: 'muted', text: 'none' }),
      (s.attempt_list || []).length > 1 || (s.attempt_list || []).some((a) => a.message) ? [
        h('h4', { text: 'Attempts' }),
        h('table', { class: 'grid small' }, h('thead', null, h('tr', null, ['#', 'Status', 'Started', 'Exit', 'Message'].map((t) => h('th', { text: t })))),
          h('tbody', null, s.attempt_list.map((a) => h('tr', null, h('td', { text: a.attempt }), h('td', null, statusBadge(a.status)),
            h('td', { text: fmtTime(a.started_at) }), h('td', { text: a.exit_code }), h('td', { text: a.message })))))] : null);
    return box;
  }

  function stopLog() {
    if (logFollow) { logFollow.stopped = true; clearTimeout(logFollow.timer); logFollow = null; }
  }

  function followLog(step, pre, status) {
    const f = { offset: 0, stopped: false, timer: null, status };
    logFollow = f;
    const tick = async () => {
      if (f.stopped) return;
      try {
        const r = await api.get(`/runs/${api.enc(run.id)}/steps/${api.enc(step)}/log?offset=${f.offset}`);
        if (f.stopped) return;
        if (r.text) {
          const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.appendChild(document.createTextNode(r.text));
          if (atBottom) pre.scrollTop = pre.scrollHeight;
        }
        f.offset = r.offset;
        if (r.done && r.offset >= (r.size || 0)) {
          if (!pre.textContent) pre.textContent = '(empty log)';
          return;
        }
        f.timer = setTimeout(tick, r.text && r.text.length >= (1 << 20) ? 0 : 700);
      } catch (e) {
        pre.appendChild(document.createTextNode(`\n[log: ${e.message}]`));
      }
    };
    tick();
  }
  cleanup.push(stopLog);

  const destroyCharts = (box) => { for (const c of box.querySelectorAll('.chart')) if (c.chart) c.chart.destroy(); };

  async function loadMetrics() {
    let m;
    try { m = await api.get(`/runs/${api.enc(run.id)}/metrics`); } catch (e) { clear(metricsBox).appendChild(errorBox(e)); return; }
    destroyCharts(metricsBox);
    clear(metricsBox);
    const series = seriesByMetric([{ id: run.id, points: m.points }]);
    const charts = h('div', { class: 'charts' });
    for (const [name, s] of series) charts.appendChild(lineChart(name, s));
    const scalars = m.points.filter((p) => p.kind === 'scalar');
    if (!series.size && !scalars.length && !m.confusions.length) metricsBox.appendChild(h('p', { class: 'muted', text: 'No metrics recorded.' }));
    if (series.size) metricsBox.appendChild(charts);
    if (scalars.length) {
      metricsBox.appendChild(h('table', { class: 'grid small scalars' },
        h('thead', null, h('tr', null, ['Step', 'Metric', 'Value'].map((t) => h('th', { text: t })))),
        h('tbody', null, scalars.map((p) => h('tr', null, h('td', { text: p.step }), h('td', { text: p.name }), h('td', { text: fmtValue(p.value) }))))));
    }
    if (m.confusions.length) {
      metricsBox.appendChild(h('div', { class: 'confusions' }, m.confusions.map((c) =>
        confusionHeatmap(`${c.step} / ${c.name}`, c.labels.map(String), c.counts))));
    }
  }

  // Sweeps: a table of trials, the objective over trials, parallel coordinates.
  function renderSweeps() {
    const sweeps = run.sweeps || [];
    const key = JSON.stringify(sweeps);
    if (key === sweepsKey) return;
    sweepsKey = key;
    destroyCharts(sweepsBox);
    clear(sweepsBox);
    for (const sw of sweeps) sweepsBox.appendChild(sweepView(sw, (name) => selectStep(sw.step, name)));
  }

  // Kubeflow visualizations: artifacts named mlpipeline-ui-metadata / mlpipeline-metrics.
  const kfpSeen = new Set();
  async function loadKfp() {
    for (const s of run.steps) {
      for (const [name, a] of Object.entries(s.artifacts || {})) {
        const isUi = /mlpipeline-ui-metadata/.test(name);
        const isMetrics = /mlpipeline-metrics/.test(name);
        if ((!isUi && !isMetrics) || a.kind !== 'file' || kfpSeen.has(a.digest)) continue;
        const url = artifactUrl(a.digest);
        if (!url) continue;
        kfpSeen.add(a.digest);
        try {
          const doc = await (await fetch(url)).json();
          if (!kfpBox.firstChild) kfpBox.appendChild(h('h3', { text: 'Visualizations' }));
          kfpBox.appendChild(h('div', { class: 'kfp-card' }, h('h4', { text: `${s.name} / ${name}` }),
            isUi ? renderUiMetadata(doc) : renderKfpMetrics(doc)));
        } catch (e) { kfpBox.appendChild(errorBox(new Error(`${name}: ${e.message}`))); }
      }
    }
  }

  function apply(doc) {
    const first = !run;
    run = doc;
    renderHeader();
    dag.update(run.dag);
    renderSweeps();
    if (first) {
      const failed = run.steps.find((s) => s.status === 'Failed' || s.status === 'Errored');
      if (failed) selectStep(failed.step || failed.name, failed.name);
    } else renderStep(false);
    const key = run.steps.map((s) => `${s.name}:${s.status}:${s.finished_at}`).join('|') + run.status;
    if (key !== metricsKey) { metricsKey = key; loadMetrics(); loadKfp(); }
  }

  api.get(`/runs/${api.enc(id)}`).then((doc) => {
    apply(doc);
    cleanup.push(api.events(`?run=${api.enc(doc.id)}`, { run: (d) => { if (d && d.id) apply(d); } }));
  }).catch((e) => { clear(app).appendChild(errorBox(e)); });
  cleanup.push(() => { destroyCharts(metricsBox); destroyCharts(sweepsBox); });
}

// ---------------------------------------------------------------- compare
async function comparePage(ids) {
  app.appendChild(h('h2', { text: `Compare ${ids.length} run${ids.length === 1 ? '' : 's'}` }));
  if (!ids.length) { app.appendChild(h('p', { class: 'muted', text: 'Select runs on the Runs page first.' })); return; }
  let data;
  try {
    data = await Promise.all(ids.map(async (id) => {
      const m = await api.get(`/runs/${api.enc(id)}/metrics`);
      const r = await api.get(`/runs/${api.enc(id)}`);
      return { id: r.id, run: r, points: m.points, params: m.params };
    }));
  } catch (e) { app.appendChild(errorBox(e)); return; }
  const keys = [...new Set(data.flatMap((d) => Object.keys(d.params || {})))].sort();
  app.appendChild(h('h3', { text: 'Params' }));
  app.appendChild(h('table', { class: 'grid compare-params' },
    h('thead', null, h('tr', null, h('th', { text: 'param' }), data.map((d) => h('th', null, h('a', { href: `#/run/${api.enc(d.id)}`, class: 'mono', text: d.id }))))),
    h('tbody', null,
      h('tr', null, h('th', { text: 'status' }), data.map((d) => h('td', null, statusBadge(d.run.status)))),
      keys.map((k) => {
        const vals = data.map((d) => (k in (d.params || {}) ? fmtValue(d.params[k]) : '—'));
        const differ = new Set(vals).size > 1;
        return h('tr', { class: differ ? 'differs' : '' }, h('th', { text: k }), vals.map((v) => h('td', { class: 'mono', text: v })));
      }))));
  const series = seriesByMetric(data);
  app.appendChild(h('h3', { text: 'Metrics' }));
  const charts = h('div', { class: 'charts' });
  for (const [name, s] of series) charts.appendChild(lineChart(name, s, { legend: true }));
  app.appendChild(series.size ? charts : h('p', { class: 'muted', text: 'No series metrics in these runs.' }));
  const finals = new Map();
  data.forEach((d, i) => {
    const last = new Map();
    for (const p of d.points) {
      const k = `${p.step}/${p.name}`;
      if (!last.has(k) || p.index >= last.get(k).index) last.set(k, p);
    }
    for (const [k, p] of last) { if (!finals.has(k)) finals.set(k, new Array(data.length).fill('—')); finals.get(k)[i] = fmtValue(p.value); }
  });
  if (finals.size) {
    app.appendChild(h('h3', { text: 'Final values' }));
    app.appendChild(h('table', { class: 'grid' },
      h('thead', null, h('tr', null, h('th', { text: 'metric' }), data.map((d) => h('th', { class: 'mono', text: d.id })))),
      h('tbody', null, [...finals].sort().map(([k, vals]) => h('tr', null, h('th', { text: k }), vals.map((v) => h('td', { text: v })))))));
  }
  cleanup.push(() => { for (const c of app.querySelectorAll('.chart')) if (c.chart) c.chart.destroy(); });
}

// ---------------------------------------------------------------- models
const STAGES = ['None', 'Staging', 'Production', 'Archived'];

async function modelsPage() {
  app.appendChild(h('h2', { text: 'Models' }));
  const box = h('div');
  app.appendChild(box);
  async function load() {
    let models;
    try { models = await api.get('/models'); } catch (e) { clear(box).appendChild(errorBox(e)); return; }
    if (!models.length) { clear(box).appendChild(h('p', { class: 'muted', text: 'No models registered yet.' })); return; }
    clear(box).appendChild(h('table', { class: 'grid models', id: 'models-table' },
      h('thead', null, h('tr', null, ['Model', 'Version', 'Stage', 'Metrics', 'Run', 'Created', 'Promote'].map((t) => h('th', { text: t })))),
      h('tbody', null, models.map((m) => {
        const sel = h('select', { 'aria-label': `stage for ${m.name}:${m.version}` }, STAGES.map((s) => h('option', { value: s, text: s })));
        sel.value = m.stage === 'Production' ? 'Archived' : 'Production';
        const btn = h('button', {
          onclick: async () => {
            try {
              await api.post(`/models/${api.enc(m.name)}/${m.version}/stage`, { stage: sel.value });
              toast(`${m.name}:${m.version} → ${sel.value}`);
              load();
            } catch (e) { toast(e.message, true); }
          },
        }, 'Set stage');
        return h('tr', { dataset: { model: `${m.name}:${m.version}` } },
          h('td', { text: m.name }), h('td', { text: m.version }), h('td', null, h('span', { class: `badge stage-${m.stage}`, text: m.stage })),
          h('td', { class: 'mono', text: Object.entries(m.metrics || {}).map(([k, v]) => `${k}=${fmtValue(v)}`).join(' ') }),
          h('td', null, m.run_id ? h('a', { href: `#/run/${api.enc(m.run_id)}`, class: 'mono', text: m.run_id }) : ''),
          h('td', { text: fmtTime(m.created_at) }),
          h('td', null, sel, ' ', btn));
      }))));
  }
  load();
}

// ---------------------------------------------------------------- triggers
async function triggersPage() {
  app.appendChild(h('h2', { text: 'Triggers' }));
  let rows;
  try { rows = await api.get('/triggers'); } catch (e) { app.appendChild(errorBox(e)); return; }
  if (!rows.length) { app.appendChild(h('p', { class: 'muted', text: 'No trigger in the workflows folder and none has fired yet (ctflow daemon FILE... runs them).' })); return; }
  for (const t of rows) {
    app.appendChild(h('h3', { text: `${t.workflow} / ${t.trigger} (${t.type})` }));
    if (t.next && t.next.length) {
      app.appendChild(h('p', { class: 'next-firings', dataset: { trigger: `${t.workflow}/${t.trigger}` } },
        'Next: ', t.next.map((n) => `${n.local} (${n.utc})`).join(', ')));
    }
    if (!t.history.length) { app.appendChild(h('p', { class: 'muted', text: 'No firing yet.' })); continue; }
    app.appendChild(h('table', { class: 'grid triggers', dataset: { trigger: `${t.workflow}/${t.trigger}` } },
      h('thead', null, h('tr', null, ['Time', 'Outcome', 'Run', 'Reason', 'Slot'].map((x) => h('th', { text: x })))),
      h('tbody', null, t.history.map((f) => h('tr', null,
        h('td', { text: fmtTime(f.time) }),
        h('td', null, h('span', { class: `badge outcome-${f.outcome}`, text: f.outcome })),
        h('td', null, f.run_id ? h('a', { href: `#/run/${api.enc(f.run_id)}`, class: 'mono', text: f.run_id }) : ''),
        h('td', { text: f.reason }),
        h('td', { class: 'mono', text: f.slot }))))));
  }
}

// ---------------------------------------------------------------- drift
// The scores a daemon's drift trigger read from `ctflow serve`, per model.
async function driftPage() {
  app.appendChild(h('h2', { text: 'Drift' }));
  let models;
  try { models = await api.get('/drift'); } catch (e) { app.appendChild(errorBox(e)); return; }
  if (!models.length) {
    app.appendChild(h('p', { class: 'muted', text: 'No drift score recorded yet: a drift trigger run by ctflow daemon records the scores it reads from ctflow serve.' }));
    return;
  }
  for (const m of models) {
    const t0 = m.samples[0].at;
    const xs = (s) => (s.at - t0) / 1000;
    const last = m.samples[m.samples.length - 1];
    const names = Object.keys(m.signals).sort();
    const series = [{ label: 'overall', points: m.samples.map((s) => ({ x: xs(s), y: s.score })) }];
    for (const n of names) {
      series.push({ label: n, points: m.samples.filter((s) => n in s.signals).map((s) => ({ x: xs(s), y: s.signals[n] })) });
    }
    series.push({ label: `threshold ${m.above}`, points: [{ x: 0, y: m.above }, { x: xs(last), y: m.above }] });
    const section = h('section', { class: 'drift', dataset: { model: m.model } },
      h('h3', { text: `${m.model} v${last.version}` }),
      h('p', { class: 'muted', text: `${m.samples.length} scores read by ${m.workflow} / ${m.trigger} since ${fmtTime(m.samples[0].time)}; it fires above ${m.above}` }),
      h('table', { class: 'grid drift-latest' },
        h('thead', null, h('tr', null, ['Signal', 'Method', 'Latest score', 'Signal threshold'].map((x) => h('th', { text: x })))),
        h('tbody', null,
          h('tr', { dataset: { signal: 'overall' } }, h('td', { text: 'overall' }), h('td', { text: 'share drifting' }),
            h('td', { class: last.score > m.above ? 'drifted' : '', text: fmtValue(last.score) }), h('td', { text: fmtValue(m.above) })),
          names.map((n) => h('tr', { dataset: { signal: n } }, h('td', { text: n }), h('td', { text: m.signals[n].method }),
            h('td', { text: n in last.signals ? fmtValue(last.signals[n]) : '' }), h('td', { text: fmtValue(m.signals[n].threshold) }))))));
    section.dataset.series = series.map((x) => `${x.label}:${x.points.length}`).join(',');
    app.appendChild(section);
    section.appendChild(lineChart(`drift of ${m.model}`, series, { xLabel: 'seconds', yLabel: 'score', legend: true }));
  }
}

// ---------------------------------------------------------------- submit
async function submitPage(preselect) {
  app.appendChild(h('h2', { text: 'Submit a run' }));
  let wfs;
  try { wfs = await api.get('/workflows'); } catch (e) { app.appendChild(errorBox(e)); return; }
  if (!wfs.length) { app.appendChild(h('p', { class: 'muted', text: 'No workflows in the workflows folder (ctflow ui --workflows DIR).' })); return; }
  const sel = h('select', { id: 'workflow-select', 'aria-label': 'workflow' }, wfs.map((w) => h('option', { value: w.file, text: `${w.file}${w.name ? ` (${w.name})` : ''}${w.valid ? '' : ' — invalid'}` })));
  if (preselect && wfs.some((w) => w.file === preselect)) sel.value = preselect;
  const paramsBox = h('div', { class: 'params-form' });
  const submit = h('button', { type: 'submit', id: 'submit-run', class: 'primary' }, 'Run');
  const form = h('form', { class: 'submit-form' }, h('label', null, 'Workflow ', sel), paramsBox, submit);
  app.appendChild(form);
  function renderParams() {
    const w = wfs.find((x) => x.file === sel.value);
    clear(paramsBox);
    if (w && w.description) paramsBox.appendChild(h('p', { class: 'muted', text: w.description }));
    if (w && w.problems) paramsBox.appendChild(h('pre', { class: 'error-box', text: w.problems }));
    for (const p of (w && w.params) || []) {
      const def = p.default === null || p.default === undefined ? '' : (typeof p.default === 'string' ? p.default : JSON.stringify(p.default));
      paramsBox.appendChild(h('label', { class: 'param' },
        h('span', { class: 'pname', text: `${p.name}${p.required ? ' *' : ''}` }),
        h('input', { name: p.name, value: def, dataset: { param: p.name, type: p.type }, placeholder: p.type }),
        h('span', { class: 'muted', text: p.description || '' })));
    }
  }
  sel.addEventListener('change', renderParams);
  renderParams();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    const params = {};
    for (const inp of paramsBox.querySelectorAll('input[data-param]')) if (inp.value !== '') params[inp.dataset.param] = inp.value;
    try {
      const r = await api.post('/runs', { workflow: sel.value, params });
      location.hash = `#/run/${api.enc(r.id)}`;
    } catch (e) { toast(e.message, true); submit.disabled = false; }
  });
}

api.captureToken();
window.addEventListener('hashchange', route);
route();
