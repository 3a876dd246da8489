// The README's screenshots of the dashboard's Drift and Triggers pages, taken
// in Debian's chromium (playwright-core) over the store of a real loop run:
// LOOP_SCREENSHOTS=docs/screenshots bash tests/integration/loop_drift.sh runs it.
// Env: BASE_URL (a ctflow ui), SCREENSHOTS (folder).
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL.replace(/\/$/, '');
const SHOTS = process.env.SCREENSHOTS;
fs.mkdirSync(SHOTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 }, bypassCSP: true })).newPage();
await page.goto(`${BASE}/#/drift`);
await page.locator('section.drift[data-model="mnist-embedder"] .chart canvas').waitFor();
await page.screenshot({ path: path.join(SHOTS, 'drift-page.png'), fullPage: true });
await page.goto(`${BASE}/#/triggers`);
await page.locator('table.triggers .badge.outcome-started').waitFor();
await page.screenshot({ path: path.join(SHOTS, 'triggers-page.png'), fullPage: true });
await browser.close();
console.log(`screenshots in ${SHOTS}`);
