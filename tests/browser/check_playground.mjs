// The playground in headless Chromium, against the native binary: serves
// the built page (target/web/site) on 127.0.0.1, loads it, runs the default
// config and checks that every number of the report equals the native
// `-o` JSON; that an invalid config shows its dotted-path error; that the
// URL fragment reopens the config; that the policy-by-load comparison draws
// one line per policy; that the page asked for nothing beyond 127.0.0.1 and
// logged no console message. Saves a full-page screenshot.
//
//   SITE=target/web/site INFERENCE_LAB_BIN=target/release/inference-lab \
//   CHROMIUM=/usr/bin/chromium SCREENSHOT=target/browser/playground.png \
//   node tests/browser/check_playground.mjs
//
// tests/web.rs runs it; playwright-core comes from `npm ci --prefix tests/browser`.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
const site = resolve(process.env.SITE ?? join(repo, 'target/web/site'));
const bin = resolve(process.env.INFERENCE_LAB_BIN ?? join(repo, 'target/release/inference-lab'));
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const screenshot = resolve(process.env.SCREENSHOT ?? join(repo, 'target/browser/playground.png'));

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
}

// ---- the native answer: the built-in default, run where there is no ./config.toml
const work = mkdtempSync(join(tmpdir(), 'inference-lab-playground-'));
execFileSync(bin, ['-q', '-o', join(work, 'native.json')], { cwd: work });
const native = JSON.parse(readFileSync(join(work, 'native.json'), 'utf8'));
const defaultToml = readFileSync(join(repo, 'configs/config.toml'), 'utf8');

// ---- a static server on 127.0.0.1
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
const server = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
  const file = join(site, path.endsWith('/') ? `${path}index.html` : path);
  try {
    if (!file.startsWith(site) || !statSync(file).isFile()) throw new Error('not a file');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const messages = [];
const outside = [];
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === origin || url.protocol === 'blob:' || url.protocol === 'data:') return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  const open = async (url) => {
    const page = await context.newPage();
    page.on('console', (m) => messages.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => messages.push(`page error: ${e.message}`));
    page.on('worker', (w) => w.on('console', (m) => messages.push(`worker console.${m.type()}: ${m.text()}`)));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });
    return page;
  };

  // ---- load: the built-in default is in the editor
  const page = await open(`${origin}/`);
  check(await page.inputValue('#editor') === defaultToml, 'the editor does not start with configs/config.toml');
  check((await page.textContent('#problems')).trim() === 'valid config', 'the default config is not shown as valid');

  // ---- run: every number of the report is the native one
  await page.click('#run');
  await page.waitForSelector('#report[data-state="done"]', { timeout: 60_000 });
  const cells = await page.$$eval('#report td[data-key]', (tds) => tds.map((td) => [td.dataset.key, td.dataset.value, td.textContent]));
  const shown = new Map(cells.map(([k, v]) => [k, Number(v)]));
  const leaves = [];
  const walk = (value, path) => {
    if (typeof value === 'number') leaves.push([path, value]);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
  };
  for (const section of ['latency_metrics', 'throughput_metrics', 'utilization', 'preemptions', 'prefix_cache', 'requests', 'simulation']) {
    walk(native[section], section);
  }
  const expected = leaves.filter(([path]) => path !== 'simulation.wall_seconds');
  for (const [path, value] of expected) {
    check(shown.has(path), `the report does not show ${path}`);
    check(!shown.has(path) || shown.get(path) === value, `${path}: the page shows ${shown.get(path)}, native ${value}`);
  }
  check(cells.every(([, , text]) => text.trim() !== '' && text !== '–'), 'a report cell is empty');
  const charts = await page.$$eval('#charts svg[data-chart]', (svgs) => svgs.map((s) => [s.dataset.chart, Number(s.dataset.points)]));
  check(charts.length === 7, `expected 7 run charts, got ${charts.map((c) => c[0])}`);
  check(charts.every(([, n]) => n > 0), `a run chart has no points: ${JSON.stringify(charts)}`);

  // ---- shareable: the fragment reopens the config in a new page
  const shared = page.url();
  check(/#config=[A-Za-z0-9_-]+$/.test(shared), `no config in the URL fragment: ${shared}`);
  const other = await open(shared);
  check(await other.inputValue('#editor') === defaultToml, 'the shared link does not reopen the config');
  await other.close();

  // ---- an invalid config: the dotted-path error, the line marked, Run disabled
  await page.fill('#editor', defaultToml.replace('block_size = 16', 'block_size = 0'));
  await page.waitForSelector('#problems .problem[data-field="scheduler.block_size"]', { timeout: 10_000 });
  const problem = await page.textContent('#problems .problem');
  check(problem.includes('scheduler.block_size: expected an integer of at least 1, got 0'), `unexpected error text: ${problem}`);
  check(await page.isDisabled('#run'), 'Run is enabled for an invalid config');
  const line = defaultToml.split('\n').findIndex((l) => l.startsWith('block_size')) + 1;
  check((await page.textContent('#gutter .bad')) === String(line), `the gutter does not mark line ${line}`);
  const typo = defaultToml.replace('[workload]', '[workload]\narival_rate = 3');
  await page.fill('#editor', typo);
  await page.waitForSelector('#problems .problem[data-field="workload.arival_rate"]', { timeout: 10_000 });
  check((await page.textContent('#problems .problem')).includes("did you mean 'arrival_rate'?"), 'no did-you-mean hint');
  await page.fill('#editor', defaultToml);
  await page.waitForFunction(() => document.querySelector('#problems').textContent.trim() === 'valid config');

  // ---- the comparison: every policy at three loads, in the worker
  const policies = await page.$$eval('#policies input', (inputs) => inputs.map((i) => i.value));
  check(policies.length === 8, `expected 8 policies, got ${policies}`);
  await page.fill('#loads', '0.5, 1, 2');
  await page.click('#compare');
  await page.waitForSelector('#compare-panel[data-state="done"]', { timeout: 120_000 });
  const svg = await page.$('#compare-chart svg[data-chart="ttft by load"]');
  check(svg !== null, 'no comparison chart');
  if (svg) {
    const series = await svg.$$eval('g.series', (gs) => gs.map((g) => [g.dataset.name, Number(g.dataset.points), g.querySelectorAll('path').length]));
    check(JSON.stringify(series.map((s) => s[0])) === JSON.stringify(policies), `comparison lines: ${JSON.stringify(series)}`);
    check(series.every(([, points, paths]) => points === 3 && paths === 1), `each policy needs one line of 3 loads: ${JSON.stringify(series)}`);
  }
  check((await page.textContent('#compare-status')).includes('24 / 24 runs'), 'the progress does not reach 24 / 24');
  check((await page.textContent('#compare-errors')).trim() === '', 'a comparison run failed');

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
  server.close();
  rmSync(work, { recursive: true, force: true });
}

check(messages.length === 0, `the page logged: ${messages.join(' | ')}`);
check(outside.length === 0, `the page asked for addresses beyond 127.0.0.1: ${outside.join(', ')}`);
if (failures.length) {
  console.error(`check_playground: ${failures.length} failures:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log(`check_playground: report, validation, share link and comparison checked; screenshot ${screenshot}`);
