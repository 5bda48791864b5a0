// The playground: a config editor with the shipped presets and inline
// validation, a run with its report and charts, and a policy-by-load
// comparison in a Worker. The config travels in the URL fragment
// (#config=base64url of its TOML), so a link reopens it.
import * as lab from './pkg/index.js';
import { escapeHtml, lineChart } from './charts.js';

const $ = (id) => document.getElementById(id);
const editor = $('editor');
const state = { source: 'config.toml', json: null, problems: [], worker: null, running: false };

// ---- numbers ---------------------------------------------------------------

const fmt = {
  ms: (v) => v.toLocaleString('en-US', { maximumFractionDigits: v >= 100 ? 0 : v >= 10 ? 1 : 2 }),
  rate: (v) => v.toLocaleString('en-US', { maximumFractionDigits: v >= 100 ? 0 : 2 }),
  count: (v) => v.toLocaleString('en-US'),
  percent: (v) => `${(v * 100).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })}%`,
  secs: (v) => v.toLocaleString('en-US', { maximumFractionDigits: v >= 100 ? 1 : 3 }),
  plain: (v) => v.toLocaleString('en-US', { maximumFractionDigits: 4 }),
};

/** A table cell holding one number of the result, marked with its JSON path and exact value. */
function cell(result, path, format) {
  const value = path.split('.').reduce((o, k) => o?.[k], result);
  if (typeof value !== 'number') return '<td>–</td>';
  return `<td data-key="${path}" data-value="${value}" title="${value}">${format(value)}</td>`;
}

// ---- the report ------------------------------------------------------------

const STATS = ['min', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'];
const LATENCIES = [['ttft_ms', 'Time to first token'], ['e2e_ms', 'End to end'], ['per_token_ms', 'Per output token']];
const GROUPS = [
  ['Throughput', 'throughput_metrics', [
    ['input_tokens_per_sec', 'prompt tokens / s', fmt.rate],
    ['output_tokens_per_sec', 'output tokens / s', fmt.rate],
    ['requests_per_sec', 'requests / s', fmt.rate]]],
  ['Utilisation', 'utilization', [
    ['avg_kv_cache_util', 'KV cache (time-weighted)', fmt.percent],
    ['avg_flops_util', 'compute (FLOP/s)', fmt.percent],
    ['avg_bandwidth_util', 'memory bandwidth', fmt.percent]]],
  ['Preemptions', 'preemptions', [
    ['total', 'total', fmt.count],
    ['per_request_mean', 'per completed request', fmt.plain]]],
  ['Prefix cache', 'prefix_cache', [
    ['hits', 'hits', fmt.count], ['misses', 'misses', fmt.count],
    ['hit_rate', 'hit rate', fmt.percent], ['cached_tokens', 'cached tokens', fmt.count],
    ['token_hit_rate', 'token hit rate', fmt.percent]]],
  ['Requests', 'requests', [
    ['total', 'arrived', fmt.count], ['completed', 'completed', fmt.count], ['rejected', 'rejected', fmt.count]]],
  ['Simulation', 'simulation', [
    ['simulated_seconds', 'simulated seconds', fmt.secs], ['steps', 'engine steps', fmt.count]]],
];
const CARDS = [
  ['requests.completed', 'requests completed', fmt.count],
  ['throughput_metrics.output_tokens_per_sec', 'output tokens / s', fmt.rate],
  ['latency_metrics.ttft_ms.p50', 'TTFT p50 (ms)', fmt.ms],
  ['latency_metrics.ttft_ms.p99', 'TTFT p99 (ms)', fmt.ms],
  ['latency_metrics.e2e_ms.p50', 'end-to-end p50 (ms)', fmt.ms],
  ['utilization.avg_kv_cache_util', 'KV cache used', fmt.percent],
];

function renderReport(result, browserMs) {
  const cards = CARDS.map(([path, label, format]) => {
    const v = path.split('.').reduce((o, k) => o?.[k], result);
    return `<div class="card"><div class="v">${format(v)}</div><div class="k">${label}</div></div>`;
  }).join('');
  let latency = `<table class="latency"><thead><tr><th class="t">latency (ms)</th>${STATS.map((s) => `<th>${s}</th>`).join('')}</tr></thead><tbody>`;
  for (const [key, label] of LATENCIES) {
    latency += `<tr><td class="t">${label}</td>${STATS.map((s) => cell(result, `latency_metrics.${key}.${s}`, fmt.ms)).join('')}</tr>`;
  }
  latency += '</tbody></table>';
  const groups = GROUPS.map(([title, section, fields]) => {
    const rows = fields.map(([key, label, format]) =>
      `<tr><td class="t">${label}</td>${cell(result, `${section}.${key}`, format)}</tr>`).join('');
    return `<div><h3>${title}</h3><table class="kv"><tbody>${rows}</tbody></table></div>`;
  }).join('');
  const c = result.config;
  const what = `${escapeHtml(c.model.name)} on ${escapeHtml(c.hardware.name)}, policy ${escapeHtml(c.scheduler.policy)}, `
    + `${escapeHtml(c.workload.arrival_pattern)} arrivals, seed ${c.workload.seed}`;
  $('report').innerHTML = `<p class="note">${what}. Simulated in ${fmt.ms(browserMs)} ms in this browser.</p>`
    + `<div class="cards">${cards}</div><h3>Latency</h3>${latency}<div class="tables">${groups}</div>`;
  $('report').dataset.state = 'done';
}

function renderCharts(trace) {
  const t = trace.timeline;
  const over = (name, ys) => ({ name, mark: 'trace', points: t.time_secs.map((x, i) => [x, ys[i]]) });
  const cdf = (name, pairs) => ({ name, mark: 'trace', points: pairs });
  const charts = [
    { id: 'queues', title: 'Queue lengths', xLabel: 'simulated time (s)', yLabel: 'requests',
      series: [over('running', t.running), over('waiting', t.waiting)] },
    { id: 'batch', title: 'Running batch size', xLabel: 'simulated time (s)', yLabel: 'requests in the step',
      series: [over('batch size', t.batch)] },
    { id: 'kv', title: 'KV cache utilisation', xLabel: 'simulated time (s)', yLabel: 'KV cache used (%)',
      series: [over('KV cache', t.kv_percent)] },
    { id: 'step', title: 'Step time', xLabel: 'simulated time (s)', yLabel: 'step duration (ms)',
      series: [over('step time', t.step_ms)] },
    { id: 'ttft cdf', title: 'TTFT distribution', xLabel: 'time to first token (ms)',
      yLabel: 'requests at or below (%)', series: [cdf('CDF', trace.ttft_ms)] },
    { id: 'e2e cdf', title: 'End-to-end latency distribution', xLabel: 'end-to-end latency (ms)',
      yLabel: 'requests at or below (%)', series: [cdf('CDF', trace.e2e_ms)] },
    { id: 'per-token cdf', title: 'Time per output token distribution', xLabel: 'time per output token (ms)',
      yLabel: 'requests at or below (%)', series: [cdf('CDF', trace.per_token_ms)] },
  ];
  $('charts').innerHTML = charts.map(lineChart).join('');
}

// ---- the editor ------------------------------------------------------------

/** The line (0-based) a dotted field is written on, if it can be found. */
function lineOfField(text, field) {
  const lines = text.split('\n');
  const syntax = /line (\d+), column/.exec(field);
  if (syntax) return Number(syntax[1]) - 1;
  const parts = field.split('.').filter(Boolean);
  const keyRe = (k) => new RegExp(`^\\s*["']?${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']?\\s*=`);
  for (let i = parts.length - 1; i >= 1; i -= 1) {
    const header = parts.slice(0, i).join('.');
    const start = lines.findIndex((l) => l.trim().replace(/\s+/g, '') .startsWith(`[${header}]`));
    if (start < 0) continue;
    for (let j = start + 1; j < lines.length && !/^\s*\[/.test(lines[j]); j += 1) {
      if (keyRe(parts[i]).test(lines[j])) return j;
    }
    return start;
  }
  if (parts.length) {
    const top = lines.findIndex((l) => keyRe(parts[0]).test(l) || l.trim().startsWith(`[${parts[0]}]`));
    if (top >= 0) return top;
  }
  return -1;
}

function renderGutter(badLine) {
  const n = editor.value.split('\n').length;
  let html = '';
  for (let i = 0; i < n; i += 1) html += i === badLine ? `<span class="bad">${i + 1}</span>\n` : `${i + 1}\n`;
  $('gutter').innerHTML = html;
  $('gutter').scrollTop = editor.scrollTop;
}

function selectLine(line) {
  const lines = editor.value.split('\n');
  const start = lines.slice(0, line).reduce((n, l) => n + l.length + 1, 0);
  editor.focus();
  editor.setSelectionRange(start, start + (lines[line]?.length ?? 0));
}

function check() {
  const text = editor.value;
  state.problems = lab.validate(text, state.source);
  const box = $('problems');
  if (state.problems.length === 0) {
    box.className = 'problems ok';
    box.textContent = 'valid config';
    renderGutter(-1);
  } else {
    box.className = 'problems';
    const p = state.problems[0];
    const line = lineOfField(text, p.field || p.message);
    box.innerHTML = state.problems.map((q) => {
      // q.text is SOURCE: FIELD: MESSAGE, as the command line prints it; the field stands out.
      const rest = q.field ? `${q.field}: ${q.message}` : q.message;
      const prefix = q.text.endsWith(rest) ? q.text.slice(0, q.text.length - rest.length) : `${q.text} `;
      const where = q.field ? `<span class="field">${escapeHtml(q.field)}</span>: ` : '';
      return `<div class="problem" data-field="${escapeHtml(q.field)}" data-line="${line}" title="click: go to the line">`
        + `error: ${escapeHtml(prefix)}${where}${escapeHtml(q.message)}</div>`;
    }).join('');
    box.querySelectorAll('.problem').forEach((el) => el.addEventListener('click', () => line >= 0 && selectLine(line)));
    renderGutter(line);
  }
  $('run').disabled = state.running || state.problems.length > 0;
  $('compare').disabled = state.running || state.problems.length > 0 || state.worker === null;
}

// ---- the URL fragment ------------------------------------------------------

function encodeConfig(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  bytes.forEach((b) => { binary += String.fromCharCode(b); });
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function decodeConfig(encoded) {
  const binary = atob(encoded.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

function configFromFragment() {
  const m = /^#config=([A-Za-z0-9_-]+)/.exec(window.location.hash);
  if (!m) return null;
  try {
    return decodeConfig(m[1]);
  } catch {
    return null;
  }
}

function saveFragment() {
  history.replaceState(null, '', `#config=${encodeConfig(editor.value)}`);
}

// ---- presets ---------------------------------------------------------------

/** Sets `section = "name"` (or `preset = "name"` inside a [section] table) in the text. */
function setPreset(text, section, name) {
  const quoted = JSON.stringify(name);
  const inline = new RegExp(`^(${section}\\s*=\\s*)(["'])[^"'\\n]*\\2`, 'm');
  if (inline.test(text)) return text.replace(inline, `$1${quoted}`);
  const lines = text.split('\n');
  const header = lines.findIndex((l) => l.trim() === `[${section}]`);
  if (header < 0) return `${text.trimEnd()}\n\n[${section}]\npreset = ${quoted}\n`;
  for (let j = header + 1; j < lines.length && !/^\s*\[/.test(lines[j]); j += 1) {
    if (/^\s*preset\s*=/.test(lines[j])) {
      lines[j] = lines[j].replace(/^(\s*preset\s*=\s*)(["'])[^"'\n]*\2/, `$1${quoted}`);
      return lines.join('\n');
    }
  }
  lines.splice(header + 1, 0, `preset = ${quoted}`);
  return lines.join('\n');
}

function setText(text, source) {
  editor.value = text;
  state.source = source;
  check();
  saveFragment();
}

// ---- running ---------------------------------------------------------------

function run() {
  if (state.problems.length > 0) return;
  const started = performance.now();
  try {
    const { json, result, trace } = lab.simulateTraced(editor.value, state.source);
    const ms = performance.now() - started;
    state.json = json;
    renderReport(result, ms);
    renderCharts(trace);
    $('download').disabled = false;
    $('status').textContent = `ran ${result.requests.total.toLocaleString('en-US')} requests in ${fmt.ms(ms)} ms`;
  } catch (e) {
    $('report').innerHTML = `<div class="problems"><div class="problem">error: ${escapeHtml(e.message)}</div></div>`;
    $('report').dataset.state = 'failed';
  }
}

function download() {
  const blob = new Blob([state.json], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'results.json';
  a.click();
  URL.revokeObjectURL(a.href);
}

// ---- the comparison --------------------------------------------------------

function startWorker() {
  state.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  state.worker.onerror = (e) => { $('compare-status').textContent = `worker failed: ${e.message}`; };
  state.worker.onmessage = ({ data }) => {
    if (data.type === 'ready') check();
    else if (data.type === 'progress') onProgress(data);
    else if (data.type === 'failed') finishCompare(`failed: ${data.error}`);
    else if (data.type === 'done') finishCompare(null);
  };
}

const compare = { key: '', unit: '', entries: [], statistic: 'p50', policies: [] };

function loadAxis(config) {
  if (config.workload.arrival_pattern === 'closed_loop') {
    return { key: 'workload.num_concurrent_users', base: config.workload.num_concurrent_users, unit: 'concurrent users', integer: true };
  }
  return { key: 'workload.arrival_rate', base: config.workload.arrival_rate, unit: 'arrival rate (req/s)', integer: false };
}

function startCompare() {
  const policies = [...document.querySelectorAll('#policies input:checked')].map((i) => i.value);
  const multiples = $('loads').value.split(/[\s,]+/).filter(Boolean).map(Number);
  const errors = $('compare-errors');
  errors.innerHTML = '';
  if (policies.length === 0 || multiples.length === 0 || multiples.some((m) => !(m > 0))) {
    errors.innerHTML = '<div class="problem">choose at least one policy, and loads as positive numbers (for example 0.5, 1, 2)</div>';
    return;
  }
  let config;
  try {
    config = lab.resolvedConfig(editor.value, state.source);
  } catch (e) {
    errors.innerHTML = `<div class="problem">error: ${escapeHtml(e.message)}</div>`;
    return;
  }
  const axis = loadAxis(config);
  const round = (v) => (axis.integer ? Math.max(1, Math.round(v)) : Number(v.toPrecision(6)));
  const loads = [...new Set(multiples.map((m) => round(axis.base * m)))].sort((a, b) => a - b);
  Object.assign(compare, { key: axis.key, unit: axis.unit, entries: [], statistic: $('statistic').value, policies });
  state.running = true;
  check();
  $('cancel').hidden = false;
  $('compare-progress').value = 0;
  $('compare-progress').max = policies.length * loads.length;
  $('compare-status').textContent = `0 / ${policies.length * loads.length} runs`;
  $('compare-chart').innerHTML = '';
  state.worker.postMessage({
    toml: editor.value,
    source: state.source,
    axes: { 'scheduler.policy': policies, [axis.key]: loads },
  });
}

function drawCompare() {
  const stat = compare.statistic;
  const series = compare.policies.map((policy) => ({
    name: policy,
    mark: 'line',
    points: compare.entries
      .filter((e) => e.ok && e.point['scheduler.policy'] === policy)
      .map((e) => [e.point[compare.key], e.ttft_ms[stat]])
      .sort((a, b) => a[0] - b[0]),
  }));
  $('compare-chart').innerHTML = lineChart({
    id: 'ttft by load', title: `TTFT ${stat} by load, one line per policy`,
    xLabel: compare.unit, yLabel: `TTFT ${stat} (ms)`, series,
  });
}

function onProgress(p) {
  compare.entries.push(p);
  $('compare-progress').value = p.done;
  $('compare-status').textContent = `${p.done} / ${p.total} runs`;
  if (!p.ok) {
    $('compare-errors').insertAdjacentHTML('beforeend', `<div class="problem">error: ${escapeHtml(p.error)}</div>`);
  }
  drawCompare();
}

function finishCompare(error) {
  state.running = false;
  $('cancel').hidden = true;
  if (error) $('compare-status').textContent = error;
  else $('compare-status').textContent += ' — done';
  $('compare-panel').dataset.state = error ? 'failed' : 'done';
  check();
}

function cancelCompare() {
  state.worker.terminate();
  state.worker = null;
  finishCompare('cancelled');
  startWorker();
}

// ---- start -----------------------------------------------------------------

function init() {
  const examples = $('example');
  examples.innerHTML = `<option value="">built-in default (configs/config.toml)</option>`
    + lab.examples.map((e) => `<option value="${escapeHtml(e.name)}"${e.runs_here ? '' : ' disabled'}>configs/${escapeHtml(e.name)}${e.runs_here ? '' : ' (command line only)'}</option>`).join('');
  examples.addEventListener('change', () => {
    const e = lab.examples.find((x) => x.name === examples.value);
    if (e) setText(e.toml, `configs/${e.name}`);
    else setText(lab.defaultConfig, lab.defaultConfigSource);
  });
  for (const section of ['hardware', 'model']) {
    const select = $(section);
    select.insertAdjacentHTML('beforeend', lab.presets[section].map((p) => `<option>${escapeHtml(p.name)}</option>`).join(''));
    select.addEventListener('change', () => {
      if (select.value) setText(setPreset(editor.value, section, select.value), state.source);
      select.value = '';
    });
  }
  $('policies').insertAdjacentHTML('beforeend', lab.policies.map((p) =>
    `<label><input type="checkbox" value="${p}" checked> ${p}</label>`).join(''));

  let timer = 0;
  editor.addEventListener('input', () => {
    renderGutter(-1);
    clearTimeout(timer);
    timer = setTimeout(() => { check(); saveFragment(); }, 150);
  });
  editor.addEventListener('scroll', () => { $('gutter').scrollTop = editor.scrollTop; });
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); check(); run(); }
  });
  $('run').addEventListener('click', run);
  $('download').addEventListener('click', download);
  $('compare').addEventListener('click', startCompare);
  $('cancel').addEventListener('click', cancelCompare);
  $('statistic').addEventListener('change', () => { compare.statistic = $('statistic').value; if (compare.entries.length) drawCompare(); });
  $('share').addEventListener('click', async () => {
    saveFragment();
    try {
      await navigator.clipboard.writeText(window.location.href);
      $('status').textContent = 'link copied: it opens this config';
    } catch {
      $('status').textContent = 'copy the address bar: it holds this config';
    }
  });
  window.addEventListener('hashchange', () => {
    const shared = configFromFragment();
    if (shared !== null && shared !== editor.value) setText(shared, 'shared config');
  });

  const shared = configFromFragment();
  if (shared !== null) setText(shared, 'shared config');
  else setText(lab.defaultConfig, lab.defaultConfigSource);
  startWorker();
  $('footer').textContent = `${lab.examples.length} shipped configs · ${lab.presets.hardware.length} hardware and `
    + `${lab.presets.model.length} model presets · ${lab.policies.length} policies · the simulator runs in this page `
    + '(WebAssembly); nothing is sent anywhere.';
  $('status').textContent = 'ready';
  document.body.dataset.ready = '1';
}

init();
