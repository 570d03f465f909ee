// Drive headless Debian Chromium with playwright-core (no downloaded browser):
//   node browser_driver.mjs job.json results.json
// job.json: {
//   "baseUrl": "http://127.0.0.1:PORT", "userDataDir": "/tmp/fresh-dir",
//   "executablePath": "/usr/bin/chromium", "timeoutMs": 60000,
//   "runner": {"path": "/tests/runtimes/runner.html", "cases": [...]},        (optional)
//   "demo": {"path": "/examples/browser/index.html?models=...",                (optional)
//            "slider": "#tau", "values": ["0.5", "12"], "screenshot": "/path/browser.png"}
// }
// One browser launch for everything. results.json: {"runner": {...}, "demo": {...}, "console": [...]}.
import { readFile, writeFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const [jobPath, resultPath] = process.argv.slice(2);
const job = JSON.parse(await readFile(jobPath, 'utf8'));
const timeout = job.timeoutMs ?? 60000;
const result = { console: [] };

const context = await chromium.launchPersistentContext(job.userDataDir, {
  executablePath: job.executablePath ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1200, height: 700 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ],
});
context.setDefaultTimeout(timeout);

async function openPage(path) {
  const page = await context.newPage();
  page.on('console', (msg) => result.console.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => result.console.push(`pageerror: ${err.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) result.console.push(`http ${r.status()}: ${r.url()}`);
  });
  const response = await page.goto(job.baseUrl + path);
  if (!response || !response.ok()) throw new Error(`GET ${path}: HTTP ${response && response.status()}`);
  return page;
}

try {
  if (job.runner) {
    const page = await openPage(job.runner.path);
    await page.waitForFunction(() => window.runnerReady === true);
    const started = Date.now();
    result.runner = {
      version: await page.evaluate(() => window.ortVersion),
      results: await page.evaluate((cases) => window.runCases(cases), job.runner.cases),
      ms: Date.now() - started,
    };
    await page.close();
  }
  if (job.demo) {
    const d = job.demo;
    const page = await openPage(d.path);
    // The page sets window.demo.error instead of hanging when a model fails to load or run.
    await page.waitForFunction(() => window.demo && (window.demo.updates > 0 || window.demo.error));
    const read = () => page.evaluate(() => JSON.parse(JSON.stringify(window.demo.latest ?? null)));
    const states = [{ slider: null, state: await read() }];
    result.demo = { error: await page.evaluate(() => window.demo.error ?? null), states };
    if (!result.demo.error) {
      for (const value of d.values ?? []) {
        const before = await page.evaluate(() => window.demo.updates);
        await page.locator(d.slider).fill(String(value));
        await page.waitForFunction((n) => window.demo.updates > n || window.demo.error, before);
        states.push({ slider: String(value), state: await read() });
      }
      result.demo.labels = await page.locator('[data-label]').allTextContents();
    }
    if (d.screenshot) await page.screenshot({ path: d.screenshot, fullPage: true });
    await page.close();
  }
} catch (err) {
  result.error = String(err && err.stack ? err.stack : err);
} finally {
  await context.close();
}
await writeFile(resultPath, JSON.stringify(result));
if (result.error) {
  console.error(result.error);
  process.exit(1);
}
