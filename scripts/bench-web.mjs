// Times one config in the browser (the playground's package in headless
// Chromium), in Node.js (the same package) and natively, median of RUNS
// runs each; prints a Markdown table. The native figure is the binary's own
// simulation.wall_seconds (the simulation alone, as performance.now() times
// it around simulate() in JavaScript).
//
//   node scripts/bench-web.mjs CONFIG.toml   (scripts/bench-web.sh runs it)
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const repo = resolve(import.meta.dirname, '..');
const config = resolve(process.argv[2]);
const runs = Number(process.env.RUNS ?? 5);
const bin = join(repo, 'target/release/inference-lab');
const site = join(repo, 'target/web/site');
const text = readFileSync(config, 'utf8');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

// Native.
const work = mkdtempSync(join(tmpdir(), 'bench-web-'));
const native = [];
for (let i = 0; i < runs; i += 1) {
  execFileSync(bin, ['-c', config, '-q', '-o', join(work, 'out.json')]);
  native.push(JSON.parse(readFileSync(join(work, 'out.json'), 'utf8')).simulation.wall_seconds * 1e3);
}
const requests = JSON.parse(readFileSync(join(work, 'out.json'), 'utf8')).requests.total;
rmSync(work, { recursive: true, force: true });

// Node.js, the same module the page loads.
const lab = await import(pathToFileURL(join(site, 'pkg/index.js')).href);
const node = [];
for (let i = 0; i < runs; i += 1) {
  const t = performance.now();
  lab.simulate(text, config);
  node.push(performance.now() - t);
}

// Chromium.
const { chromium } = createRequire(join(repo, 'tests/browser/package.json'))('playwright-core');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
const server = createServer((req, res) => {
  const file = join(site, new URL(req.url, 'http://x').pathname.replace(/\/$/, '/index.html'));
  try {
    if (!file.startsWith(site) || !statSync(file).isFile()) throw new Error();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await page.waitForSelector('body[data-ready="1"]');
const chrome = await page.evaluate(async ({ text, runs }) => {
  const lab = await import('./pkg/index.js');
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const t = performance.now();
    lab.simulate(text, 'bench');
    times.push(performance.now() - t);
  }
  return times;
}, { text, runs });
await browser.close();
server.close();

const n = median(native);
const label = process.env.LABEL ?? config.replace(`${repo}/`, '');
console.log(`| ${label} (${requests} requests) | native | Node.js ${process.versions.node} | Chromium ${browser.version()} |`);
console.log('|---|---|---|---|');
console.log(`| simulation, ms (median of ${runs}) | ${n.toFixed(0)} | ${median(node).toFixed(0)} (${(median(node) / n).toFixed(2)}x) | ${median(chrome).toFixed(0)} (${(median(chrome) / n).toFixed(2)}x) |`);
