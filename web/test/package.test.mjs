// The npm package against the native binary: installs the packed tarball
// into a temporary directory (offline: it has no dependencies), then checks
// that every shipped config that runs in a browser, the built-in default
// among them, gives the native `-o` JSON byte for byte (the native run's
// simulation.wall_seconds set to the package's 0.0), that validation errors
// are the command line's, and the grid runner, presets and types.
//
//   INFERENCE_LAB_BIN=target/release/inference-lab \
//   INFERENCE_LAB_TARBALL=target/web/inference-lab-0.1.0.tgz node --test web/test/
//
// tests/web.rs runs it (cargo test --release) with both set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const repo = resolve(import.meta.dirname, '../..');
const bin = resolve(process.env.INFERENCE_LAB_BIN ?? join(repo, 'target/release/inference-lab'));
const tarball = resolve(process.env.INFERENCE_LAB_TARBALL ?? join(repo, 'target/web/inference-lab-0.1.0.tgz'));
let dir;
let lab;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'inference-lab-npm-'));
  writeFileSync(join(dir, 'package.json'), '{"name": "consumer", "private": true, "type": "module"}\n');
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', tarball], { cwd: dir });
  lab = await import(pathToFileURL(join(dir, 'node_modules/inference-lab/index.js')).href);
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** The native -o JSON of `args` run in `cwd`, with the run's wall time written as the package writes it. */
function native(args, cwd = repo) {
  const out = join(dir, 'native.json');
  execFileSync(bin, [...args, '-q', '-o', out], { cwd });
  const text = readFileSync(out, 'utf8');
  assert.equal(typeof JSON.parse(text).simulation.wall_seconds, 'number');
  // The only field the native run fills from the clock: simulation.wall_seconds.
  const pattern = /^( {4}"wall_seconds": )[^,\n]+(,?)$/m;
  assert.equal(text.split('"wall_seconds"').length, 2, 'wall_seconds appears once');
  assert.match(text, pattern);
  return text.replace(pattern, '$10.0$2');
}

test('configs/quick.toml gives the native JSON byte for byte', () => {
  const text = readFileSync(join(repo, 'configs/quick.toml'), 'utf8');
  assert.equal(lab.simulate(text, 'configs/quick.toml'), native(['-c', 'configs/quick.toml']));
});

test('the built-in default config gives the native JSON byte for byte', () => {
  const empty = mkdtempSync(join(dir, 'cwd-')); // no ./config.toml: the binary runs its built-in default
  assert.equal(lab.simulate(lab.defaultConfig, lab.defaultConfigSource), native([], empty));
});

test('every shipped config that runs in a browser gives the native JSON', () => {
  const runnable = lab.examples.filter((e) => e.runs_here);
  assert.ok(runnable.length >= 8, `only ${runnable.length} runnable examples`);
  for (const e of runnable) {
    const path = `configs/${e.name}`;
    assert.equal(e.toml, readFileSync(join(repo, path), 'utf8'), `${path} is bundled as shipped`);
    assert.equal(lab.simulate(e.toml, path), native(['-c', path]), path);
  }
});

test('shipped configs and presets are those of configs/', () => {
  const toml = (d) => readdirSync(join(repo, d)).filter((f) => f.endsWith('.toml')).sort();
  assert.deepEqual(lab.examples.map((e) => e.name), toml('configs'));
  assert.deepEqual(lab.presets.hardware.map((p) => `${p.name}.toml`).sort(), toml('configs/hardware'));
  assert.deepEqual(lab.presets.model.map((p) => `${p.name}.toml`).sort(), toml('configs/models'));
  for (const p of lab.presets.hardware) {
    assert.equal(p.toml, readFileSync(join(repo, 'configs/hardware', `${p.name}.toml`), 'utf8'));
  }
  assert.equal(lab.defaultConfig, readFileSync(join(repo, 'configs/config.toml'), 'utf8'));
  assert.deepEqual(lab.examples.filter((e) => !e.runs_here).map((e) => e.name),
    ['dataset-closed-loop.toml', 'dataset.toml', 'trace.toml']);
});

test('validation errors are the command line\'s, with the dotted path', () => {
  const bad = lab.defaultConfig.replace('block_size = 16', 'block_size = 0');
  const file = join(dir, 'bad.toml');
  writeFileSync(file, bad);
  const cli = spawnSync(bin, ['validate', file], { encoding: 'utf8' });
  assert.equal(cli.status, 1);
  const problems = lab.validate(bad, file);
  assert.equal(problems.length, 1);
  assert.equal(problems[0].field, 'scheduler.block_size');
  assert.equal(`error: ${problems[0].text}\n`, cli.stderr);
  assert.deepEqual(lab.validate(lab.defaultConfig), []);
  // A typo gets the same did-you-mean hint as on the command line.
  const typo = lab.validate(lab.defaultConfig.replace('max_num_seqs', 'max_num_seq'), 'c.toml');
  assert.equal(typo[0].field, 'scheduler.max_num_seq');
  assert.match(typo[0].message, /did you mean 'max_num_seqs'\?/);
  assert.throws(() => lab.simulate(bad, file), { message: problems[0].text });
});

test('grid and runGrid run every point with progress; a failing point does not stop the rest', () => {
  const points = lab.grid(lab.examples.find((e) => e.name === 'quick.toml').toml, {
    'scheduler.policy': ['fcfs', 'sof'],
    'workload.arrival_rate': [1, 4],
  }, 'quick.toml');
  assert.deepEqual(points.map((p) => p.point), [
    { 'scheduler.policy': 'fcfs', 'workload.arrival_rate': 1 },
    { 'scheduler.policy': 'fcfs', 'workload.arrival_rate': 4 },
    { 'scheduler.policy': 'sof', 'workload.arrival_rate': 1 },
    { 'scheduler.policy': 'sof', 'workload.arrival_rate': 4 },
  ]);
  const configs = [...points, { toml: '[model\n', source: 'broken.toml' }];
  const seen = [];
  const entries = lab.runGrid(configs, { onProgress: (p) => seen.push([p.done, p.total, p.entry.ok]) });
  assert.deepEqual(seen, [[1, 5, true], [2, 5, true], [3, 5, true], [4, 5, true], [5, 5, false]]);
  assert.match(entries[4].error, /^broken\.toml: invalid TOML: line 1/);
  for (const [i, p] of points.entries()) {
    assert.equal(entries[i].json, lab.simulate(p.toml, p.source));
    assert.equal(entries[i].result.config.scheduler.policy, p.point['scheduler.policy']);
    assert.equal(entries[i].result.config.workload.arrival_rate, p.point['workload.arrival_rate']);
  }
  // Higher load, longer queues: TTFT p50 grows with the arrival rate.
  assert.ok(entries[1].result.latency_metrics.ttft_ms.p50 > entries[0].result.latency_metrics.ttft_ms.p50);
});

test('the traced run returns the same JSON and a bounded trace', () => {
  const { json, result, trace } = lab.simulateTraced(lab.defaultConfig, lab.defaultConfigSource);
  assert.equal(json, lab.simulate(lab.defaultConfig, lab.defaultConfigSource));
  assert.equal(result.requests.completed, 1000);
  const t = trace.timeline;
  assert.ok(t.time_secs.length > 10 && t.time_secs.length <= 1000);
  for (const k of ['running', 'waiting', 'batch', 'kv_percent', 'step_ms']) assert.equal(t[k].length, t.time_secs.length);
  assert.equal(trace.ttft_ms.length, 400);
  assert.equal(trace.ttft_ms.at(-1)[1], 100);
  assert.equal(trace.ttft_ms.at(-1)[0], result.latency_metrics.ttft_ms.max);
});

test('index.d.ts declares every export of index.js', () => {
  const root = join(dir, 'node_modules/inference-lab');
  const dts = readFileSync(join(root, 'index.d.ts'), 'utf8');
  const exported = Object.keys(lab).sort();
  assert.ok(exported.length >= 12, exported.join(', '));
  for (const name of exported) {
    assert.match(dts, new RegExp(`export (function|const) ${name}\\b`), `${name} is not declared`);
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.types, './index.d.ts');
  assert.match(pkg.version, /^\d+\.\d+\.\d+$/);
});
