// The policy-by-load comparison, off the page's thread: builds the grid
// (every policy at every load), runs it with the package's grid runner and
// posts progress after each run. Only the TTFT statistics travel back.
import * as lab from './pkg/index.js';

self.onmessage = ({ data }) => {
  const { toml, source, axes } = data;
  let points;
  try {
    points = lab.grid(toml, axes, source);
  } catch (e) {
    self.postMessage({ type: 'failed', error: String(e?.message ?? e) });
    return;
  }
  lab.runGrid(points, {
    onProgress: ({ done, total, entry }) => {
      self.postMessage({
        type: 'progress',
        done,
        total,
        point: entry.point,
        ok: entry.ok,
        ttft_ms: entry.ok ? entry.result.latency_metrics.ttft_ms : null,
        completed: entry.ok ? entry.result.requests.completed : 0,
        error: entry.ok ? null : entry.error,
      });
    },
  });
  self.postMessage({ type: 'done' });
};
self.postMessage({ type: 'ready' });
