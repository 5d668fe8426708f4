// The dashboard in headless Chromium: sign in as executive and as analyst, filter, page the
// sales table, ask a question, watch an import arrive live, and check what each role sees.
// Every request must stay on the gateway; screenshots go to the artifacts folder.
//   node dashboard.mjs <base> <executive token> <analyst token> <admin token> <artifacts dir> [chromium]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, executiveToken, analystToken, adminToken, artifacts, executablePath = '/usr/bin/chromium'] = process.argv.slice(2);
const origin = new URL(base).origin;
mkdirSync(artifacts, { recursive: true });

const failures = [];
const check = (condition, message) => {
  if (!condition) failures.push(message);
};

const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});

const foreign = [];
const consoleErrors = [];

async function newPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== origin && url.origin !== origin.replace(/^http/, 'ws')) {
      foreign.push(request.url());
    }
  });
  page.on('websocket', (socket) => {
    if (new URL(socket.url()).host !== new URL(base).host) foreign.push(socket.url());
  });
  page.on('response', (response) => {
    if (response.status() >= 400) consoleErrors.push(`HTTP ${response.status()} for ${response.url()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`console: ${message.text()}`);
  });
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    return url.origin === origin || url.protocol === 'data:' ? route.continue() : route.abort();
  });
  return page;
}

const ready = (page, generation) => page.waitForFunction((g) => Number(document.documentElement.dataset.ready || 0) >= g, generation);
const visible = (page, selector) => page.locator(selector).isVisible();
const text = (page, selector) => page.locator(selector).innerText();
const chartLabels = (page, id) => page.evaluate((canvas) => window.Chart.getChart(canvas)?.data.labels ?? [], id);
const number = (s) => Number(String(s).replace(/[^0-9.-]/g, ''));

// The API's own answer to a query, asked from the page (same origin, the given token).
const apiData = (page, token, query) => page.evaluate(async ([token, query]) => {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return (await response.json()).data;
}, [token, query]);

async function signIn(page, token) {
  await page.goto(`${base}/dashboard`);
  await page.waitForSelector('#signin:not([hidden])');
  await page.fill('#signin-token', token);
  await page.click('#signin-form button[type=submit]');
  await ready(page, 1);
}

try {
  // ------------------------------------------------------------------ executive
  const executive = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  let page = await newPage(executive);
  await signIn(page, executiveToken);
  check((await text(page, '#viewer')).includes('executive'), 'the header names the executive role');
  check(await visible(page, '#card-revenue'), 'executive sees revenue');
  check(number(await text(page, '#kpi-units')) > 0, 'headline units are shown');
  check(/[0-9]/.test(await text(page, '#kpi-revenue')), 'headline revenue is shown');
  check(!(await visible(page, '#sales')), 'executive does not see the raw sales table');
  check(await visible(page, '#inventory'), 'executive sees the inventory plan');
  check((await chartLabels(page, 'top-models-chart')).length > 0, 'top models chart has bars');
  check((await chartLabels(page, 'trend-chart')).length >= 24, 'trend chart has a monthly series');
  check((await chartLabels(page, 'forecast-chart')).length === 6, 'forecast chart has six months');
  check((await text(page, '#forecast-backtest')).includes('MASE'), 'the forecast shows its backtest');
  check((await page.locator('#seasonality-table tbody tr').count()) >= 3, 'the heatmap has markets');
  check((await page.locator('#marketing-list > li').count()) > 0, 'marketing priorities are listed');
  check((await page.locator('#inventory-table tbody tr').count()) > 0, 'the inventory plan has rows');
  for (const selector of ['#headline', '#top-models', '#trend', '#seasonality', '#forecast', '#marketing', '#growth', '#inventory']) {
    const error = await page.locator(`${selector} .panel-error`).innerText();
    check(error === '', `${selector} shows an error: ${error}`);
  }
  const worldUnits = number(await text(page, '#kpi-units'));
  await page.screenshot({ path: join(artifacts, 'dashboard-executive.png'), fullPage: true });

  // A filter: Germany, last year. The URL carries it; the panels follow it.
  await page.selectOption('#f-countries', ['DE']);
  await page.selectOption('#f-period', 'last-year');
  await page.click('#apply');
  await ready(page, 2);
  const url = page.url();
  check(url.includes('countries=DE') && url.includes('period=last-year'), `the URL holds the filter: ${url}`);
  const germanUnits = number(await text(page, '#kpi-units'));
  check(germanUnits > 0 && germanUnits !== worldUnits, `Germany last year (${germanUnits}) differs from the whole (${worldUnits})`);
  check((await page.locator('#seasonality-table tbody tr[data-market="DE"]').count()) === 1, 'the heatmap shows Germany');
  check((await page.inputValue('#inventory-country')) === 'DE', 'the inventory plan follows the country');

  // The headline's change is the API's comparison with the days just before.
  const [from, to] = (await text(page, '#headline-period')).split(' to ');
  const compared = (await apiData(page, executiveToken,
    `{ salesSummary(filter: { countries: ["DE"], from: "${from}", to: "${to}" }, groupBy: [], compareTo: PREVIOUS_PERIOD) { units changeRatio } }`,
  )).salesSummary[0];
  const ratio = compared.changeRatio;
  const expectedChange = ratio == null ? 'no previous period' : `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
  const shownChange = await text(page, '#kpi-units-change');
  check(shownChange.startsWith(expectedChange), `the headline's change "${shownChange}" is the API's ${expectedChange}`);
  check(compared.units === germanUnits, `the API's units ${compared.units} are the headline's ${germanUnits}`);

  // The growth panel lists the API's fastest growing model of Germany in that period.
  const growing = (await apiData(page, executiveToken,
    `{ salesSummary(filter: { countries: ["DE"], from: "${from}", to: "${to}" }, groupBy: [MODEL], compareTo: PREVIOUS_YEAR, rankBy: CHANGE, limit: 1) { model { name } change } }`,
  )).salesSummary[0];
  const firstGrowing = page.locator('#growth-table tbody[data-direction="up"] tr[data-model]').first();
  if (growing && growing.change > 0) {
    check((await firstGrowing.getAttribute('data-model')) === growing.model.name, `the growth panel leads with ${growing.model.name}`);
    check(Number(await firstGrowing.getAttribute('data-change')) === growing.change, 'the growth panel shows the API\'s change');
  }

  // A shared link opens the same view.
  const shared = await newPage(executive);
  await shared.goto(url);
  await ready(shared, 1);
  check((await shared.$$eval('#f-countries option:checked', (o) => o.map((x) => x.value))).join() === 'DE', 'a shared URL restores the countries');
  check(number(await text(shared, '#kpi-units')) === germanUnits, 'a shared URL shows the same figures');
  await shared.close();

  // Ask: the interpretation, the confidence and the answer.
  await page.fill('#ask-input', 'top 3 models in Germany last year');
  await page.click('#ask-form button[type=submit]');
  await page.waitForSelector('#ask-answer tbody tr');
  check((await page.locator('#ask-answer tbody tr').count()) === 3, 'ask answers with three rows');
  check((await text(page, '#ask-result')).includes('DE'), 'ask shows its interpretation');
  check(/Confidence\s+\d+%/.test(await text(page, '#ask-confidence')), 'ask shows its confidence');
  // An unsure question offers alternatives to click; a click answers that reading.
  await page.fill('#ask-input', 'X5 sales in Germany');
  await page.click('#ask-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#ask-result')?.textContent?.includes('Confidence'));
  const alternatives = page.locator('#ask-result .alternatives button');
  check((await alternatives.count()) > 0, 'the question offers alternative readings');
  await alternatives.first().click();
  await page.waitForFunction(() => document.querySelector('#ask-result')?.textContent?.includes('answered alternative 1'));
  await page.screenshot({ path: join(artifacts, 'dashboard-executive-filtered.png'), fullPage: true });

  // Live: an import through the API reaches the open dashboard within seconds. Connecting may
  // take a retry on a loaded machine (the client backs off between attempts).
  await page.waitForFunction(() => document.querySelector('#live')?.classList.contains('on'), null, { timeout: 90000 });
  const before = Number(await page.evaluate(() => document.documentElement.dataset.ready));
  const csv = 'sold_on,model,country,units,unit_price_usd\n2023-12-15,X5,DE,7,70000\n';
  const imported = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ query: 'mutation($csv: String!) { importSales(csv: $csv) { landed rowsLanded } }', variables: { csv } }),
  }).then((r) => r.json());
  check(imported.data?.importSales?.rowsLanded === 1, `the import landed: ${JSON.stringify(imported)}`);
  const landed = Date.now();
  await ready(page, before + 1);
  const delay = Date.now() - landed;
  check(delay < 5000, `the dashboard refreshed ${delay} ms after the import`);
  check(number(await text(page, '#kpi-units')) === germanUnits + 7, 'the refreshed headline counts the imported sale');
  console.log(`live refresh ${delay} ms after the import`);

  // GraphiQL takes the same sign-in.
  const graphiql = await newPage(executive);
  await graphiql.goto(`${base}/graphql`);
  await graphiql.waitForSelector('.graphiql-container');
  check((await graphiql.evaluate(() => window.localStorage.getItem('salesgraph.token'))) === executiveToken, 'GraphiQL sees the token');
  await graphiql.close();
  await page.click('#sign-out');
  await page.waitForSelector('#signin:not([hidden])');
  await executive.close();

  // ------------------------------------------------------------------ analyst
  const analyst = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  page = await newPage(analyst);
  await signIn(page, analystToken);
  check(!(await visible(page, '#card-revenue')), 'analyst does not see revenue');
  check(!(await visible(page, '#inventory')), 'analyst does not see the inventory plan');
  check(await visible(page, '#sales'), 'analyst sees the sales table');
  check(number(await text(page, '#kpi-units')) > 0, 'analyst sees units');
  // The table loads when scrolled to, and pages with cursors.
  await page.locator('#sales').scrollIntoViewIfNeeded();
  await page.waitForSelector('#sales-table tbody tr');
  const firstPage = await page.$$eval('#sales-table tbody tr', (rows) => rows.map((r) => r.dataset.id));
  check(firstPage.length === 25, `a page holds 25 rows, not ${firstPage.length}`);
  const headers = await page.$$eval('#sales-table th', (cells) => cells.map((c) => c.textContent));
  check(!headers.includes('Revenue') && !headers.includes('Unit price'), `no money columns for analysts: ${headers}`);
  await page.click('#sales-next');
  await page.waitForFunction((first) => document.querySelector('#sales-table tbody tr')?.dataset.id !== first, firstPage[0]);
  const secondPage = await page.$$eval('#sales-table tbody tr', (rows) => rows.map((r) => r.dataset.id));
  check(secondPage.every((id) => !firstPage.includes(id)), 'the next page holds other rows');
  await page.click('#sales-prev');
  await page.waitForFunction((first) => document.querySelector('#sales-table tbody tr')?.dataset.id === first, firstPage[0]);
  await page.screenshot({ path: join(artifacts, 'dashboard-analyst.png'), fullPage: true });
  for (const selector of ['#headline', '#top-models', '#trend', '#seasonality', '#forecast', '#marketing', '#growth', '#sales']) {
    const error = await page.locator(`${selector} .panel-error`).innerText();
    check(error === '', `${selector} shows an error for the analyst: ${error}`);
  }
  await analyst.close();
} catch (error) {
  failures.push(String(error.stack || error));
} finally {
  await browser.close();
}

check(foreign.length === 0, `requests left the gateway: ${foreign.join(', ')}`);
check(consoleErrors.length === 0, `the browser reported errors: ${consoleErrors.join(' | ')}`);
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log('dashboard: executive and analyst views, filter, shared URL, ask, live refresh, paging: all as expected');
