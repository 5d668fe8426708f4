// GraphiQL in headless Chromium, offline: the page at /graphql must render its editor with
// every request staying on the server's origin, and run a query.
//   node graphiql.mjs http://127.0.0.1:8080 <token> [/usr/bin/chromium]
import { chromium } from 'playwright-core';

const [base, token, executablePath = '/usr/bin/chromium'] = process.argv.slice(2);
const origin = new URL(base).origin;
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const failures = [];
try {
  const context = await browser.newContext();
  // Signed in as the dashboard would leave it.
  await context.addInitScript((t) => window.localStorage.setItem('salesgraph.token', t), token);
  const page = await context.newPage();
  const foreign = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol.startsWith('http') && url.origin !== origin) foreign.push(request.url());
  });
  page.on('pageerror', (error) => failures.push(`page error: ${error.message}`));
  // Nothing may leave the machine: anything not on our origin is aborted and reported.
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    return url.origin === origin || url.protocol === 'data:' ? route.continue() : route.abort();
  });
  await page.goto(`${base}/graphql`, { waitUntil: 'load' });
  await page.waitForSelector('.graphiql-container', { timeout: 20000 });
  await page.waitForSelector('.graphiql-execute-button', { timeout: 20000 });
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => document.querySelector('.result-window')?.textContent?.includes('"rank"'),
    null,
    { timeout: 20000 },
  );
  const result = await page.textContent('.result-window');
  if (!result.includes('"units"')) failures.push(`unexpected result: ${result.slice(0, 300)}`);
  if (foreign.length > 0) failures.push(`requests left the machine: ${foreign.join(', ')}`);
  console.log(`graphiql rendered offline and ran a query (${result.length} characters of result)`);
} catch (error) {
  failures.push(String(error));
} finally {
  await browser.close();
}
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
