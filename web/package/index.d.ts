// Types of the inference-lab package. JSON keys are those of the command
// line's `-o` output (docs/metrics.md).

/** Min, mean and nearest-rank percentiles of a latency, milliseconds. */
export interface Stats {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** What one run reports: the JSON that `inference-lab -o` writes. */
export interface RunResult {
  /** The fully resolved config that ran (see `resolvedConfig`). */
  config: ResolvedConfig;
  latency_metrics: { ttft_ms: Stats; e2e_ms: Stats; per_token_ms: Stats };
  throughput_metrics: {
    input_tokens_per_sec: number;
    output_tokens_per_sec: number;
    requests_per_sec: number;
  };
  utilization: { avg_kv_cache_util: number; avg_flops_util: number; avg_bandwidth_util: number };
  preemptions: { total: number; per_request_mean: number };
  prefix_cache: {
    hits: number;
    misses: number;
    hit_rate: number;
    cached_tokens: number;
    token_hit_rate: number;
  };
  requests: { total: number; completed: number; rejected: number };
  simulation: {
    simulated_seconds: number;
    steps: number;
    /** Always 0 here: the simulator reads no clock (the command line fills in its own run time). */
    wall_seconds: number;
    version: string;
  };
}

/** A resolved config: sections `hardware`, `model`, `scheduler`, `workload`, `simulation` (docs/configuration.md). */
export interface ResolvedConfig {
  hardware: Record<string, unknown>;
  model: Record<string, unknown>;
  scheduler: { policy: string } & Record<string, unknown>;
  workload: {
    arrival_pattern: string;
    arrival_rate: number;
    num_requests: number | null;
    num_concurrent_users: number | null;
    seed: number;
  } & Record<string, unknown>;
  simulation: Record<string, unknown>;
}

/** One problem of a config. */
export interface Problem {
  /** Dotted path of the field (`scheduler.block_size`); empty for the whole document. */
  field: string;
  /** What is wrong and what was expected. */
  message: string;
  /** The line the command line prints after `error: ` (`SOURCE: FIELD: MESSAGE`). */
  text: string;
}

/** A run's time series (means over time buckets) and latency CDFs (`[value, percent at or below]`). */
export interface Trace {
  timeline: {
    time_secs: number[];
    running: number[];
    waiting: number[];
    batch: number[];
    kv_percent: number[];
    step_ms: number[];
  };
  ttft_ms: [number, number][];
  e2e_ms: [number, number][];
  per_token_ms: [number, number][];
}

/** A shipped text file. */
export interface PresetFile {
  name: string;
  toml: string;
}

/** A shipped config (`configs/NAME`). */
export interface Example extends PresetFile {
  /** False for dataset-mode configs, which need files a browser cannot read. */
  runs_here: boolean;
}

/** A dotted config key's value. */
export type Scalar = string | number | boolean;

/** One point of a grid. */
export interface GridPoint {
  /** The keys set at this point. */
  point: Record<string, Scalar>;
  /** Its name in error messages. */
  source: string;
  /** Its config. */
  toml: string;
}

/** The outcome of one config of `runGrid`. */
export type GridEntry =
  | { index: number; point?: Record<string, Scalar>; ok: true; json: string; result: RunResult }
  | { index: number; point?: Record<string, Scalar>; ok: false; error: string };

/** Progress of `runGrid`, after each config. */
export interface GridProgress {
  done: number;
  total: number;
  entry: GridEntry;
}

/** The name a config gets in error messages when none is given (`config.toml`). */
export const DEFAULT_SOURCE: string;

/** Runs a config; returns its result JSON, byte for byte what `inference-lab -c FILE -q -o out.json` writes (with `wall_seconds` 0). Throws an `Error` with the command line's message when the config is invalid. */
export function simulate(configToml: string, source?: string): string;

/** Runs a config and also returns what a page draws. */
export function simulateTraced(
  configToml: string,
  source?: string,
): { json: string; result: RunResult; trace: Trace };

/** The problems of a config, `[]` when it runs here. */
export function validate(configToml: string, source?: string): Problem[];

/** The resolved config. Throws when it is invalid. */
export function resolvedConfig(configToml: string, source?: string): ResolvedConfig;

/** A copy of a config with dotted keys set (comments are not kept). */
export function withOverrides(configToml: string, overrides: Record<string, Scalar>, source?: string): string;

/** The hardware and model presets. */
export const presets: { hardware: PresetFile[]; model: PresetFile[] };

/** The shipped configs. */
export const examples: Example[];

/** The scheduling policies' names (`fcfs`, `sof`, ...). */
export const policies: string[];

/** The built-in default config's TOML. */
export const defaultConfig: string;

/** The built-in default's name in error messages. */
export const defaultConfigSource: string;

/** Every combination of the axes' values, the last key varying fastest. */
export function grid(baseToml: string, axes: Record<string, Scalar[]>, source?: string): GridPoint[];

/** Runs configs one after another with a progress callback (synchronous: use a Worker in a page). */
export function runGrid(
  configs: (string | { toml: string; source?: string; point?: Record<string, Scalar> })[],
  options?: { onProgress?: (progress: GridProgress) => void; source?: string },
): GridEntry[];
