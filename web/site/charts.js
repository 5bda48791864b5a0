// Line charts as SVG text, drawn like the command line's --plot pages:
// nice round ticks, axis labels with units, the Tableau 10 palette, a legend
// when there is more than one series. Every chart is marked for tests: the
// <svg> carries data-chart, data-series and data-points, and each series is
// a <g class="series"> with its own data-points.

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f',
  '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const HEIGHT = 300;
const LEFT = 66;
const TOP = 30;
const BOTTOM = 44;
const RIGHT = 14;
const LEGEND = 118;

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

/** About `target` round ticks (1, 2 or 5 times a power of ten) covering [lo, hi]. */
export function niceTicks(lo, hi, target = 5) {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  if (ticks[ticks.length - 1] < hi) ticks.push(ticks[ticks.length - 1] + step);
  return { ticks, step };
}

/** A tick value with as many decimals as its step needs, thousands separated. */
export function tickLabel(value, step) {
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/**
 * One chart: `series` is a list of {name, points: [[x, y], ...], mark}, where
 * mark is 'trace' (a dense line, no markers) or 'line' (markers with
 * tooltips). Returns the SVG's text.
 */
export function lineChart({ id, title, xLabel, yLabel, series, yFrom0 = true }) {
  const legend = series.length > 1;
  const width = 540 + (legend ? LEGEND : 0);
  const plotRight = width - RIGHT - (legend ? LEGEND : 0);
  const plotBottom = HEIGHT - BOTTOM;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const total = series.reduce((n, s) => n + s.points.length, 0);
  let out = `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" `
    + `viewBox="0 0 ${width} ${HEIGHT}" data-chart="${escapeHtml(id)}" data-series="${series.length}" `
    + `data-points="${total}" role="img" aria-label="${escapeHtml(title)}">`;
  out += `<text class="title" x="${LEFT}" y="18">${escapeHtml(title)}</text>`;
  if (all.length === 0) {
    out += `<text x="${LEFT}" y="${TOP + 40}">no data</text></svg>`;
    return out;
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xt = niceTicks(Math.min(...xs), Math.max(...xs), 6);
  const yt = niceTicks(yFrom0 ? Math.min(0, ...ys) : Math.min(...ys), Math.max(...ys), 5);
  const [x0, x1] = [xt.ticks[0], xt.ticks[xt.ticks.length - 1]];
  const [y0, y1] = [yt.ticks[0], yt.ticks[yt.ticks.length - 1]];
  const px = (x) => LEFT + ((x - x0) / (x1 - x0 || 1)) * (plotRight - LEFT);
  const py = (y) => plotBottom - ((y - y0) / (y1 - y0 || 1)) * (plotBottom - TOP);
  const f = (v) => v.toFixed(1);

  out += '<g class="axes">';
  for (const t of yt.ticks) {
    out += `<line class="grid" x1="${LEFT}" x2="${plotRight}" y1="${f(py(t))}" y2="${f(py(t))}"/>`;
    out += `<text x="${LEFT - 6}" y="${f(py(t) + 4)}" text-anchor="end">${tickLabel(t, yt.step)}</text>`;
  }
  for (const t of xt.ticks) {
    out += `<line class="tickmark" x1="${f(px(t))}" x2="${f(px(t))}" y1="${plotBottom}" y2="${plotBottom + 4}"/>`;
    out += `<text x="${f(px(t))}" y="${plotBottom + 16}" text-anchor="middle">${tickLabel(t, xt.step)}</text>`;
  }
  out += `<line class="axis" x1="${LEFT}" x2="${plotRight}" y1="${plotBottom}" y2="${plotBottom}"/>`;
  out += `<line class="axis" x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${plotBottom}"/>`;
  out += `<text class="label" x="${(LEFT + plotRight) / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeHtml(xLabel)}</text>`;
  out += `<text class="label" transform="translate(14 ${(TOP + plotBottom) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`;
  out += '</g>';

  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const dash = Math.floor(i / PALETTE.length) % 2 ? ' stroke-dasharray="6 3"' : '';
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    out += `<g class="series" data-name="${escapeHtml(s.name)}" data-points="${s.points.length}">`;
    if (pts.length > 1) {
      const d = pts.map(([x, y], k) => `${k ? 'L' : 'M'}${f(px(x))} ${f(py(y))}`).join('');
      out += `<path d="${d}" fill="none" stroke="${colour}" stroke-width="${s.mark === 'line' ? 2 : 1.5}"${dash}/>`;
    }
    if (s.mark === 'line' || pts.length === 1) {
      for (const [x, y] of pts) {
        out += `<circle cx="${f(px(x))}" cy="${f(py(y))}" r="3.5" fill="${colour}">`
          + `<title>${escapeHtml(s.name)}: ${escapeHtml(xLabel)} ${x.toLocaleString('en-US')}, `
          + `${escapeHtml(yLabel)} ${y.toLocaleString('en-US', { maximumFractionDigits: 3 })}</title></circle>`;
      }
    }
    out += '</g>';
  });

  if (legend) {
    out += '<g class="legend">';
    series.forEach((s, i) => {
      const y = TOP + 6 + i * 18;
      const x = plotRight + 14;
      const dash = Math.floor(i / PALETTE.length) % 2 ? ' stroke-dasharray="6 3"' : '';
      out += `<line x1="${x}" x2="${x + 18}" y1="${y}" y2="${y}" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2.5"${dash}/>`;
      out += `<text x="${x + 24}" y="${y + 4}">${escapeHtml(s.name)}</text>`;
    });
    out += '</g>';
  }
  return out + '</svg>';
}
