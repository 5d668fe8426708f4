// Times the dashboard's first view in headless Chromium: from navigation to every first-view
// panel drawn (the page sets data-ready), once cold and then RUNS times warm, each in a fresh
// browser context signed in with the token. Used by measure/dashboard.sh.
//   node first_view.mjs <base> <token> [runs] [chromium]
import { chromium } from 'playwright-core';

const [base, token, runs = '5', executablePath = '/usr/bin/chromium'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});

async function firstView() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  await context.addInitScript((t) => window.localStorage.setItem('salesgraph.token', t), token);
  const page = await context.newPage();
  await page.goto(`${base}/dashboard`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: 60000 });
  const timing = await page.evaluate(() => ({
    // Navigation start to the ready mark: HTML, scripts, sign-in query and every panel.
    total: performance.getEntriesByName('salesgraph:ready:1')[0].startTime,
    panels: window.salesgraphTimings[1],
    boot: performance.getEntriesByName('salesgraph:boot')[0]?.duration,
    each: Object.fromEntries(performance.getEntriesByType('measure')
      .filter((m) => m.name.startsWith('salesgraph:panel:'))
      .map((m) => [m.name.slice('salesgraph:panel:'.length), Math.round(m.duration)])),
  }));
  const errors = await page.$$eval('.panel-error', (boxes) => boxes.map((b) => b.textContent).filter(Boolean));
  await context.close();
  if (errors.length) throw new Error(`panels failed: ${errors.join('; ')}`);
  return timing;
}

const cold = await firstView();
console.log(`cold: first view ready in ${cold.total.toFixed(0)} ms (sign-in query ${cold.boot?.toFixed(0)} ms, panels ${cold.panels.toFixed(0)} ms: ${JSON.stringify(cold.each)})`);
const warm = [];
for (let i = 0; i < Number(runs); i++) warm.push(await firstView());
const totals = warm.map((t) => t.total).sort((a, b) => a - b);
const median = totals[Math.floor(totals.length / 2)];
console.log(`warm: median ${median.toFixed(0)} ms, max ${totals[totals.length - 1].toFixed(0)} ms over ${runs} runs; last: ${JSON.stringify(warm[warm.length - 1].each)}`);
await browser.close();
