// Measures the dashboard (see bench/ui.sh): API latency per endpoint and the
// runs page's render time. Prints one JSON object.
import { performance } from 'node:perf_hooks';
import { chromium } from '../tests/browser/node_modules/playwright-core/index.mjs';

const BASE = process.env.BASE_URL;
const RUN = process.env.RUN_ID;
const N = Number(process.env.REQUESTS || 300);

function pct(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]; }

async function latency(path) {
  for (let i = 0; i < 20; i++) await (await fetch(BASE + path)).arrayBuffer();  // warm up
  const ms = [];
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const r = await fetch(BASE + path);
    const b = await r.arrayBuffer();
    ms.push(performance.now() - t0);
    bytes = b.byteLength;
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  }
  ms.sort((a, b) => a - b);
  const r3 = (x) => Math.round(x * 1000) / 1000;
  return { path, requests: N, bytes, p50_ms: r3(pct(ms, 50)), p99_ms: r3(pct(ms, 99)), max_ms: r3(ms[ms.length - 1]) };
}

const api = [];
for (const p of ['/api/v1/runs?limit=100', '/api/v1/runs', `/api/v1/runs/${RUN}`, `/api/v1/runs/${RUN}/metrics`,
  `/api/v1/runs/${RUN}/steps/count/log`, '/api/v1/models']) api.push(await latency(p));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const renders = [];
for (let i = 0; i < 5; i++) {
  const page = await browser.newPage();
  // Stamp the moment the first rows reach the DOM (an init script: no eval, so
  // the dashboard's strict CSP stays on), then wait for the next frame.
  await page.addInitScript(() => {
    new MutationObserver((_, obs) => {
      if (document.querySelector('#runs-table tbody tr')) {
        obs.disconnect();
        requestAnimationFrame(() => { window.__rendered = performance.now(); });
      }
    }).observe(document, { subtree: true, childList: true });
  });
  await page.goto(`${BASE}/#/runs`);
  await page.locator('#runs-table tbody tr').first().waitFor();
  let t = null;
  while (t === null) t = await page.evaluate(() => window.__rendered ?? null);
  renders.push(t);
  await page.close();
}
await browser.close();
renders.sort((a, b) => a - b);
const worstP99 = Math.max(...api.map((a) => a.p99_ms));
console.log(JSON.stringify({
  bench: 'ui',
  runs_in_store: Number(process.env.RUNS),
  api,
  api_p99_ms_worst: worstP99,
  runs_page_render_ms: { median: Math.round(renders[2]), max: Math.round(renders[4]) },
  targets: { api_p99_ms: 20, render_ms: 1000 },
  meets_targets: worstP99 < 20 && renders[4] < 1000,
}, null, 2));
