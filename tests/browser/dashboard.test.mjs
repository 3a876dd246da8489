// Dashboard test in the Debian chromium (playwright-core, no browser download).
// Run by tests/integration/ui_browser.sh, which makes the store and starts
// `ctflow ui`. Env: BASE_URL, HELLO_RUN (a finished run of fixtures/hello.yaml),
// METRICS_RUN (a run with metrics and a confusion matrix), SWEEP_RUN (a finished
// run of fixtures/sweep.yaml), SCREENSHOTS (folder).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const HELLO = process.env.HELLO_RUN;
const METRICS = process.env.METRICS_RUN;
const SWEEP = process.env.SWEEP_RUN;
const SHOTS = process.env.SCREENSHOTS || 'tests/out/screenshots';
fs.mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
// bypassCSP: playwright's polling helpers evaluate strings, which the dashboard's
// strict policy (script-src 'self') forbids; the page itself needs no eval.
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, bypassCSP: true });
const page = await context.newPage();
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
const shot = (name) => page.screenshot({ path: path.join(SHOTS, name), fullPage: true });

let passed = 0;
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message}`);
    await shot(`FAIL-${name.replace(/\W+/g, '-')}.png`).catch(() => {});
    await browser.close();
    process.exit(1);
  }
}

const nodeStatus = (step) => page.locator(`#dag g.dag-node[data-step="${step}"]`).getAttribute('data-status');

await check('runs list shows the runs', async () => {
  await page.goto(`${BASE}/#/runs`);
  await page.locator(`tr[data-run="${HELLO}"]`).waitFor();
  await page.locator(`tr[data-run="${METRICS}"]`).waitFor();
  const row = page.locator(`tr[data-run="${HELLO}"]`);
  assert.equal(await row.getAttribute('data-status'), 'Succeeded');
  assert.match(await row.innerText(), /hello/);
  await shot('runs-list.png');
});

await check('status filter narrows the list', async () => {
  await page.selectOption('select[aria-label="status filter"]', 'Failed');
  await page.waitForFunction(() => document.querySelectorAll('#runs-table tbody tr').length === 0);
  await page.selectOption('select[aria-label="status filter"]', '');
  await page.locator(`tr[data-run="${HELLO}"]`).waitFor();
});

await check('a finished run shows every step node with its status', async () => {
  await page.click(`tr[data-run="${HELLO}"] a`);
  await page.waitForURL(new RegExp(`#/run/${HELLO}$`));
  for (const step of ['greet', 'count', 'report', 'done']) {
    await page.locator(`#dag g.dag-node[data-step="${step}"]`).waitFor();
    assert.equal(await nodeStatus(step), 'Succeeded', step);
  }
  assert.equal(await page.locator('#dag path.dag-edge').count(), 4);
});

await check('clicking a step shows its details and log', async () => {
  await page.click('#dag g.dag-node[data-step="count"]');
  await page.waitForFunction(() => /line 3/.test(document.querySelector('#log')?.textContent || ''));
  const panel = await page.locator('#step-panel').innerText();
  assert.match(panel, /outputs/i);
  assert.match(panel, /line 1/);
});

await check('an artifact downloads by digest', async () => {
  await page.click('#dag g.dag-node[data-step="report"]');
  const link = page.locator('#step-panel table.artifacts a').first();
  await link.waitFor();
  const href = await link.getAttribute('href');
  assert.match(href, /^\/api\/v1\/artifacts\/sha256%3A[0-9a-f]{64}$/);
  const res = await page.request.get(`${BASE}${href}`);
  assert.equal(res.status(), 200);
  assert.match(await res.text(), /"outputs"/);
});

await check('mlpipeline-ui-metadata is rendered as Kubeflow would', async () => {
  await page.locator('#kfp .kfp-output[data-type="table"] td', { hasText: 'recall@10' }).waitFor();
  await page.locator('#kfp .kfp-output[data-type="markdown"] h3', { hasText: 'Report' }).waitFor();
  await page.locator('#kfp .kfp-output[data-type="confusion_matrix"] table.confusion td', { hasText: '1133' }).waitFor();
  await shot('run-hello.png');
});

await check('metrics draw as line charts and the confusion matrix as a heatmap', async () => {
  await page.goto(`${BASE}/#/run/${METRICS}`);
  await page.locator('#metrics .chart[data-metric="loss"] canvas').waitFor();
  await page.locator('#metrics .chart[data-metric="accuracy"] canvas').waitFor();
  const drawn = await page.evaluate(() => {
    const c = document.querySelector('#metrics .chart[data-metric="loss"] canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
    return ink;
  });
  assert.ok(drawn > 1000, `the loss chart has ink (${drawn} pixels)`);
  const cells = page.locator('#metrics table.confusion tbody td');
  assert.equal(await cells.count(), 9);
  assert.equal(await cells.nth(0).innerText(), '50');
  await page.click('#dag g.dag-node[data-step="train"]');
  await page.waitForFunction(() => /epoch/.test(document.querySelector('#log')?.textContent || ''));
  await shot('run-page.png');
});

await check('a sweep shows its trials, the objective by trial and parallel coordinates', async () => {
  await page.goto(`${BASE}/#/run/${SWEEP}`);
  const rows = page.locator('#sweeps table.sweep-trials tbody tr');
  await rows.first().waitFor();
  // fixtures/sweep.yaml: a 4 x 2 grid; score 0.9 - 0.1 |log10(lr) + 2| (+ 0.05 for dim 32) over dim/8 steps; tune[6] fails.
  const headers = await page.locator('#sweeps table.sweep-trials thead th').allInnerTexts();
  assert.deepEqual(headers.map((t) => t.trim()), ['Trial', 'Status', 'lr', 'dim', 'score', 'Steps reached']);
  const table = await page.evaluate(() => [...document.querySelectorAll('#sweeps table.sweep-trials tbody tr')].map((tr) => ({
    trial: tr.dataset.trial, status: tr.dataset.status, best: tr.classList.contains('best'),
    cells: [...tr.querySelectorAll('td')].slice(2).map((td) => td.textContent.trim()),
  })));
  const expected = [
    ['0.0001', '16', '0.7', '2'], ['0.0001', '32', '0.75', '4'], ['0.001', '16', '0.8', '2'], ['0.001', '32', '0.85', '4'],
    ['0.01', '16', '0.9', '2'], ['0.01', '32', '0.95', '4'], ['0.1', '16', '—', '—'], ['0.1', '32', '0.85', '4']];
  assert.deepEqual(table.map((r) => r.cells), expected);
  assert.deepEqual(table.map((r) => r.trial), ['0', '1', '2', '3', '4', '5', '6', '7']);
  assert.deepEqual(table.map((r) => r.status), ['Succeeded', 'Succeeded', 'Succeeded', 'Succeeded', 'Succeeded', 'Succeeded', 'Failed', 'Succeeded']);
  assert.deepEqual(table.filter((r) => r.best).map((r) => r.trial), ['5']);
  assert.match(await page.locator('#sweeps .sweep-summary').innerText(), /8 trials \(7 Succeeded, 1 Failed\).*best tune\[5\]: score 0\.95/);
  // A failed trial does not make the sweep's node Failed.
  assert.equal(await nodeStatus('tune'), 'Succeeded');

  // The objective by trial: one point a trial that has one, and the best so far.
  await page.locator('#sweeps .chart.sweep-objective canvas').waitFor();
  const chart = await page.evaluate(() => {
    const box = document.querySelector('#sweeps .chart.sweep-objective');
    const c = box.querySelector('canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
    return { ink, sets: box.chart.data.datasets.map((s) => ({ label: s.label, points: s.data.map((p) => [p.x, p.y]) })) };
  });
  assert.ok(chart.ink > 1000, `the objective chart has ink (${chart.ink} pixels)`);
  assert.deepEqual(chart.sets[0].points, [[0, 0.7], [1, 0.75], [2, 0.8], [3, 0.85], [4, 0.9], [5, 0.95], [7, 0.85]]);
  assert.equal(chart.sets[1].label, 'best so far');
  assert.deepEqual(chart.sets[1].points, [[0, 0.7], [1, 0.75], [2, 0.8], [3, 0.85], [4, 0.9], [5, 0.95], [7, 0.95]]);

  // Parallel coordinates: an axis a parameter plus the objective, a polyline a trial.
  const pc = await page.evaluate(() => {
    const root = document.querySelector('#sweeps svg.parcoords');
    const lines = [...root.querySelectorAll('path.pc-line')].map((p) => ({
      trial: p.dataset.trial, cls: p.getAttribute('class'), stroke: p.getAttribute('stroke'),
      points: [...p.getAttribute('d').matchAll(/[ML]([-\d.]+),([-\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]),
    }));
    const axes = [...root.querySelectorAll('g.pc-axis')].map((g) => [g.dataset.axis, g.dataset.scale]);
    return { lines, axes };
  });
  assert.deepEqual(pc.axes, [['lr', 'log'], ['dim', 'categorical'], ['score', 'linear']]);
  assert.equal(pc.lines.length, 8);
  const line = (t) => pc.lines.find((l) => l.trial === String(t));
  for (let t = 0; t < 8; t++) assert.equal(line(t).points.length, t === 6 ? 2 : 3, `trial ${t}'s polyline`);
  assert.match(line(6).cls, /no-objective/);
  assert.match(line(5).cls, /\bbest\b/);
  // lr 1e-4, 1e-3, 1e-2, 1e-1 lie evenly on the log axis (on a linear one the first three would bunch up).
  const lrY = [0, 2, 4, 6].map((t) => line(t).points[0][1]);
  const gaps = lrY.slice(1).map((y, i) => lrY[i] - y);
  for (const g of gaps) assert.ok(Math.abs(g - gaps[0]) < 0.5 && g > 10, `even log spacing: ${lrY}`);
  // Coloured by objective: the best yellow, the worst purple (viridis).
  assert.equal(line(5).stroke, 'rgb(253,231,37)');
  assert.equal(line(0).stroke, 'rgb(68,1,84)');

  // A trial's row opens its step.
  await rows.nth(3).click();
  await page.locator('#step-panel h3', { hasText: 'tune[3]' }).waitFor();
  assert.match(await page.locator('#step-panel .step-details').innerText(), /Trial\s+dim=32\s+lr=0\.001/);
  await shot('run-sweep.png');
  await page.locator('#sweeps').screenshot({ path: path.join(SHOTS, 'sweep.png') });
});

await check('runs compare side by side', async () => {
  await page.goto(`${BASE}/#/compare?runs=${METRICS},${HELLO}`);
  await page.locator('table.compare-params').waitFor();
  await page.locator('.chart[data-metric="loss"] canvas').waitFor();
  await shot('compare.png');
});

let submitted = '';
await check('a run started from the UI changes state live', async () => {
  await page.goto(`${BASE}/#/submit`);
  await page.selectOption('#workflow-select', 'slow.yaml');
  await page.fill('input[data-param="seconds"]', '1.5');
  await page.fill('input[data-param="note"]', '<img src=x onerror="window.__xss=1">');
  await page.click('#submit-run');
  await page.waitForURL(/#\/run\/r-/);
  submitted = decodeURIComponent(page.url().split('#/run/')[1]);
  // Collect every status each node shows while the run goes on.
  await page.locator('#dag g.dag-node[data-step="join"]').waitFor();
  await page.evaluate(() => {
    window.__seen = {};
    const record = () => {
      for (const g of document.querySelectorAll('#dag g.dag-node')) {
        (window.__seen[g.dataset.step] ||= new Set()).add(g.dataset.status);
      }
    };
    record();
    new MutationObserver(record).observe(document.getElementById('dag'), { attributes: true, subtree: true, childList: true });
  });
  await page.click('#dag g.dag-node[data-step="left"]');
  await page.waitForFunction(() => document.querySelector('#dag g.dag-node[data-step="join"]')?.dataset.status === 'Succeeded',
    null, { timeout: 30000 });
  const seen = await page.evaluate(() => Object.fromEntries(Object.entries(window.__seen).map(([k, v]) => [k, [...v]])));
  for (const step of ['left', 'right', 'join']) {
    assert.ok(seen[step].includes('Pending') || seen[step].includes('Running'), `${step} was seen before it finished: ${seen[step]}`);
    assert.ok(seen[step].includes('Succeeded'), `${step} ended Succeeded: ${seen[step]}`);
  }
  assert.ok(seen.left.includes('Running'), `left was seen Running: ${seen.left}`);
  await page.waitForFunction(() => /left 3/.test(document.querySelector('#log')?.textContent || ''));
  // The param is shown as text, never run as HTML.
  assert.match(await page.locator('.run-header').innerText(), /<img src=x onerror=/);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await shot('run-submitted.png');
});

await check('cancel and resume from the run page', async () => {
  await page.goto(`${BASE}/#/submit`);
  await page.selectOption('#workflow-select', 'slow.yaml');
  await page.fill('input[data-param="seconds"]', '20');
  await page.click('#submit-run');
  await page.waitForURL(/#\/run\/r-/);
  await page.locator('#dag g.dag-node[data-step="prepare"][data-status="Running"]').waitFor();
  // The step's own progress report: a bar a quarter full and "25% warming up".
  const prepare = page.locator('#dag g.dag-node[data-step="prepare"].has-progress');
  await prepare.waitFor({ timeout: 10000 });
  assert.equal(await prepare.getAttribute('data-progress'), '25');
  assert.match(await prepare.locator('.dag-status').textContent(), /Running 25% warming up/);
  const bar = Number(await prepare.locator('rect.dag-progress').getAttribute('width'));
  assert.ok(bar > 30 && bar < 55, `the bar is a quarter of the node: ${bar}`);
  await shot('run-progress.png');
  await page.click('#cancel-btn');
  await page.locator('.run-header .badge.st-Cancelled').waitFor({ timeout: 20000 });
  await page.locator('#resume-btn').waitFor();
});

await check('models page lists versions and promotes', async () => {
  await page.goto(`${BASE}/#/models`);
  const row = page.locator('tr[data-model="demo-model:1"]');
  await row.waitFor();
  await row.locator('select').selectOption('Production');
  await row.locator('button').click();
  await page.locator('tr[data-model="demo-model:1"] .badge.stage-Production').waitFor();
  await shot('models.png');
});

await check('triggers page lists firings with the run started or why none', async () => {
  await page.goto(`${BASE}/#/triggers`);
  const table = page.locator('table.triggers[data-trigger="retrain/drifted"]');
  await table.waitFor();
  const rows = table.locator('tbody tr');
  assert.equal(await rows.count(), 2);
  assert.equal(await table.locator('.badge.outcome-started').count(), 1);
  assert.equal(await table.locator(`a[href="#/run/${HELLO}"]`).count(), 1);
  assert.match(await table.locator('tr', { has: page.locator('.outcome-skipped') }).innerText(), /cooldown/);
  // a started firing is coloured as a success, a skipped one is not
  const bg = (sel) => table.locator(sel).evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.notEqual(await bg('.badge.outcome-started'), await bg('.badge.outcome-skipped'));
  // a trigger of a workflow file that has not fired: its next firings, in its zone and in UTC
  const next = page.locator('p.next-firings[data-trigger="hello/nightly"]');
  assert.match(await next.innerText(), /^Next: \d{4}-\d\d-\d\d[ T]0?3:00.*\(\d{4}-\d\d-\d\dT0[12]:00:00Z\)/);
  await shot('triggers.png');
});

await check('drift page charts the scores per signal and overall with the threshold', async () => {
  await page.goto(`${BASE}/#/drift`);
  const section = page.locator('section.drift[data-model="digits"]');
  await section.waitFor();
  assert.match(await section.locator('h3').innerText(), /digits v1/);
  assert.match(await section.locator('p').innerText(), /40 scores read by retrain \/ drifted.*above 0\.4/);
  assert.equal(await section.locator('tr[data-signal="overall"] td.drifted').count(), 1);
  assert.match(await section.locator('tr[data-signal="intensity"]').innerText(), /psi\s+1\.95\s+0\.1/);
  assert.equal(await section.getAttribute('data-series'), 'overall:40,intensity:40,neighbor_distance:40,threshold 0.4:2');
  assert.ok(await section.locator('.chart canvas').boundingBox());
  await shot('drift.png');
});

await check('no errors in the page', async () => {
  assert.deepEqual(problems, []);
});

await browser.close();
console.log(`${passed} checks passed; screenshots in ${SHOTS}`);
