// inference-lab for JavaScript: the simulator's deterministic core compiled
// to WebAssembly. Importing this module loads the module (top-level await);
// every function after that is synchronous. Runs in browsers (also in Web
// Workers) and in Node.js 18 or later.
import initWasm, * as wasm from './inference_lab_web.js';

const WASM_URL = new URL('./inference_lab_web_bg.wasm', import.meta.url);

async function wasmSource() {
  // Node.js cannot fetch file: URLs; read the file instead.
  if (WASM_URL.protocol === 'file:' && typeof process === 'object' && process.versions?.node) {
    const { readFile } = await import('node:fs/promises');
    return readFile(WASM_URL);
  }
  return WASM_URL;
}

await initWasm({ module_or_path: await wasmSource() });

/** The name a config gets in error messages when none is given. */
export const DEFAULT_SOURCE = 'config.toml';

/** Runs a config; returns its result as `inference-lab -c FILE -o out.json` writes it. */
export function simulate(configToml, source = DEFAULT_SOURCE) {
  return wasm.simulate(configToml, source);
}

/** Runs a config and also returns what a page draws: time series and latency CDFs. */
export function simulateTraced(configToml, source = DEFAULT_SOURCE) {
  const run = wasm.simulateTraced(configToml, source);
  try {
    const json = run.json;
    return { json, result: JSON.parse(json), trace: JSON.parse(run.trace) };
  } finally {
    run.free();
  }
}

/** The problems of a config (`[]` when it runs here), with dotted field paths. */
export function validate(configToml, source = DEFAULT_SOURCE) {
  return JSON.parse(wasm.validate(configToml, source));
}

/** The resolved config: every default filled in, presets expanded. */
export function resolvedConfig(configToml, source = DEFAULT_SOURCE) {
  return JSON.parse(wasm.resolvedConfig(configToml, source));
}

/** A copy of a config with dotted keys set: `{"scheduler.policy": "sof"}`. Comments are not kept. */
export function withOverrides(configToml, overrides, source = DEFAULT_SOURCE) {
  return wasm.withOverrides(configToml, source, JSON.stringify(overrides));
}

/** The hardware and model presets (`hardware = "h100"`), with their TOML. */
export const presets = JSON.parse(wasm.presets());

/** The shipped configs (`configs/*.toml`) to start from. */
export const examples = JSON.parse(wasm.examples());

/** The scheduling policies' names. */
export const policies = wasm.policies();

/** The built-in default config: what the command line runs without `-c`. */
export const defaultConfig = wasm.defaultConfig();

/** The name of the built-in default in error messages. */
export const defaultConfigSource = wasm.defaultConfigSource();

/**
 * The points of a grid: every combination of the values of `axes`
 * (`{"scheduler.policy": ["fcfs", "sof"], "workload.arrival_rate": [1, 2]}`),
 * the last key varying fastest, as sweep manifests order their points.
 */
export function grid(baseToml, axes, source = DEFAULT_SOURCE) {
  const keys = Object.keys(axes);
  let points = [{}];
  for (const key of keys) {
    const values = axes[key];
    if (!Array.isArray(values) || values.length === 0) {
      throw new Error(`grid: ${key}: expected a non-empty list of values`);
    }
    points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return points.map((point, index) => ({
    point,
    source: `${source} [point ${index}: ${keys.map((k) => `${k}=${point[k]}`).join(', ')}]`,
    toml: withOverrides(baseToml, point, source),
  }));
}

/**
 * Runs a list of configs (TOML strings, or `{toml, source}` objects such as
 * `grid` makes) one after the other, calling `onProgress({done, total, entry})`
 * after each. A config that fails is an entry with `ok: false` and its
 * error; the others still run. Synchronous: in a page, call it in a Worker.
 */
export function runGrid(configs, { onProgress, source = DEFAULT_SOURCE } = {}) {
  const entries = [];
  configs.forEach((config, index) => {
    const item = typeof config === 'string' ? { toml: config, source: `${source} [${index}]` } : config;
    let entry;
    try {
      const json = simulate(item.toml, item.source ?? `${source} [${index}]`);
      entry = { index, point: item.point, ok: true, json, result: JSON.parse(json) };
    } catch (e) {
      entry = { index, point: item.point, ok: false, error: String(e?.message ?? e) };
    }
    entries.push(entry);
    onProgress?.({ done: index + 1, total: configs.length, entry });
  });
  return entries;
}
