//! Charts as inline SVG: axes with nice ticks and labels, a legend, lines or
//! dots per series, and error bars. Pure functions from a [`Chart`] to text,
//! so pages need no script or network to draw them.
//!
//! Every chart is marked for tests and tools: the `<svg>` carries
//! `data-chart` (its id), `data-series` and `data-points` (the data series
//! and their points), each series is a `<g class="series">` with its own
//! `data-points`, a Pareto front is a `<g class="front">` and each guide
//! line (an SLO, a found capacity) is a `<line class="guide">` with
//! `data-axis` and `data-value`.

use super::escape;
use std::fmt::Write;

/// Width of a chart, pixels.
pub const WIDTH: f64 = 640.0;
/// Height of a chart, pixels.
pub const HEIGHT: f64 = 360.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 52.0;
/// Approximate width of one character of the 11 px labels.
const CHAR_WIDTH: f64 = 6.2;
/// Legend entries shown before "... N more".
const LEGEND_ROWS: usize = 16;
/// Characters of a legend entry before it is cut (the full name is its tooltip).
const LEGEND_CHARS: usize = 24;

/// Colours of the series (Tableau 10), then repeated with dashes.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// How the x axis maps values to positions.
#[derive(Debug, Clone, PartialEq)]
pub enum XAxis {
    /// Linear, with nice round ticks.
    Linear,
    /// Logarithmic (all values positive), ticked at the data's values.
    Log,
    /// Named categories at x = 0, 1, 2, ...
    Categories(Vec<String>),
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Points joined by a line, in x order.
    Line,
    /// Points only.
    Dots,
    /// A line without point markers (dense series: time series, CDFs).
    Trace,
    /// Bars from zero, series side by side within a category.
    Bars,
}

/// Which way a guide line runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuideAxis {
    /// A horizontal line at a y value (a limit such as an SLO).
    Horizontal,
    /// A vertical line at an x value (a found capacity).
    Vertical,
}

/// A reference line across the plot, labelled at its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Guide {
    /// Which way it runs.
    pub axis: GuideAxis,
    /// Where: the y value of a horizontal guide, the x value of a vertical one.
    pub value: f64,
    /// Its label (and tooltip).
    pub label: String,
    /// The series whose colour it takes; dark red when it belongs to none.
    pub series: Option<usize>,
}

/// One point; `err` is the half-width of an error bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Position on the x axis (a category's index for categories).
    pub x: f64,
    /// Value.
    pub y: f64,
    /// Error bar half-width, if any.
    pub err: Option<f64>,
    /// Tooltip text.
    pub tip: String,
}

/// A named series of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// The points.
    pub points: Vec<Point>,
    /// How to draw them.
    pub mark: Mark,
}

/// A chart: titles, axes and series; `front` is an optional Pareto front
/// drawn over the series.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Identifier (the `data-chart` attribute).
    pub id: String,
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis, with its unit.
    pub x_label: String,
    /// Label of the y axis, with its unit.
    pub y_label: String,
    /// The x axis.
    pub x_axis: XAxis,
    /// The data series.
    pub series: Vec<Series>,
    /// A front to mark (a step line through the given points).
    pub front: Option<Vec<Point>>,
    /// Reference lines drawn over the series.
    pub guides: Vec<Guide>,
}

/// Adds `point` to the series named `name`, starting that series (drawn as
/// `mark`) when it is new: charts gather their points row by row.
pub fn push_point(series: &mut Vec<Series>, name: String, point: Point, mark: Mark) {
    match series.iter_mut().find(|s| s.name == name) {
        Some(s) => s.points.push(point),
        None => series.push(Series {
            name,
            points: vec![point],
            mark,
        }),
    }
}

impl Chart {
    /// Points in all data series.
    pub fn point_count(&self) -> usize {
        self.series.iter().map(|s| s.points.len()).sum()
    }
}

/// Round tick values covering `[lo, hi]`, about `target` of them, steps of
/// 1, 2 or 5 times a power of ten. Returns the ticks and the step.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        if lo == 0.0 {
            (0.0, 1.0)
        } else {
            let pad = lo.abs() * 0.1;
            (lo - pad, hi + pad)
        }
    };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = libm::pow(10.0, libm::log10(raw).floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    let ticks = (first..=last).map(|i| i as f64 * step).collect();
    (ticks, step)
}

/// A tick label: as many decimals as the step needs, thousands as `k` and
/// millions as `M` when the step is a whole number of them.
pub fn tick_label(value: f64, step: f64) -> String {
    if value.abs() < step * 1e-9 {
        return "0".into();
    }
    if step >= 1e6 && (step / 1e6).fract() == 0.0 {
        return format!("{}M", value / 1e6);
    }
    if step >= 1e3 && (step / 1e3).fract() == 0.0 {
        return format!("{}k", value / 1e3);
    }
    let decimals = (-libm::log10(step).floor()).clamp(0.0, 9.0) as usize;
    format!("{value:.decimals$}")
}

/// A data value for tooltips and tables: four significant digits.
pub fn short_number(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let digits = libm::log10(value.abs()).floor() as i32;
    if !(-4..6).contains(&digits) {
        return format!("{value:.3e}");
    }
    let decimals = (3 - digits).max(0) as usize;
    format!("{value:.decimals$}")
}

/// A swept value as written (`5`, `0.25`, `16384`) when that is short,
/// else four significant digits.
pub fn plain_number(value: f64) -> String {
    let text = format!("{value}");
    if text.len() <= 7 {
        text
    } else {
        short_number(value)
    }
}

/// Keeps every k-th of `n` labels so that labels `width` pixels wide fit
/// `span` pixels without overlapping.
fn thin(n: usize, width: f64, span: f64) -> usize {
    if n <= 1 {
        return 1;
    }
    let spacing = span / (n - 1) as f64;
    ((width + 10.0) / spacing).ceil().max(1.0) as usize
}

struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    log: bool,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        let (x0, x1, x) = if self.log {
            (libm::log10(self.x0), libm::log10(self.x1), libm::log10(x))
        } else {
            (self.x0, self.x1, x)
        };
        LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        HEIGHT - BOTTOM - (y - self.y0) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)
    }
}

/// The x ticks (value, label) and the x domain of a chart.
fn x_ticks(chart: &Chart, xs: &[f64]) -> (Vec<(f64, String)>, f64, f64) {
    let (lo, hi) = min_max(xs.iter().copied()).unwrap_or((0.0, 1.0));
    match &chart.x_axis {
        XAxis::Categories(names) => {
            let ticks = names
                .iter()
                .enumerate()
                .map(|(i, n)| (i as f64, n.clone()))
                .collect();
            (ticks, -0.5, names.len().max(1) as f64 - 0.5)
        }
        XAxis::Log if lo > 0.0 => {
            let mut values: Vec<f64> = xs.to_vec();
            values.sort_by(f64::total_cmp);
            values.dedup();
            let ticks = values.iter().map(|v| (*v, plain_number(*v))).collect();
            let pad = if hi > lo {
                libm::pow(hi / lo, 0.08)
            } else {
                2.0
            };
            (ticks, lo / pad, hi * pad)
        }
        _ => {
            let (ticks, step) = nice_ticks(lo, hi, 6);
            let first = ticks.first().copied().unwrap_or(lo);
            let last = ticks.last().copied().unwrap_or(hi);
            let labelled = ticks.iter().map(|v| (*v, tick_label(*v, step))).collect();
            (labelled, first, last)
        }
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((a, b)) => Some((a.min(v), b.max(v))),
        })
}

/// Renders `chart` as an `<svg>` element.
pub fn render(chart: &Chart) -> String {
    let points = chart
        .series
        .iter()
        .flat_map(|s| &s.points)
        .chain(chart.front.iter().flatten());
    let guides_at = |axis: GuideAxis| {
        chart
            .guides
            .iter()
            .filter(move |g| g.axis == axis)
            .map(|g| g.value)
    };
    let xs: Vec<f64> = points
        .clone()
        .map(|p| p.x)
        .chain(guides_at(GuideAxis::Vertical))
        .collect();
    let ys = points
        .flat_map(|p| {
            let e = p.err.unwrap_or(0.0);
            [p.y - e, p.y + e]
        })
        .chain(guides_at(GuideAxis::Horizontal));
    let (ylo, yhi) = min_max(ys).unwrap_or((0.0, 1.0));
    let bars = chart.series.iter().any(|s| s.mark == Mark::Bars);
    // Start at zero when the data is not far from it (and always for bars):
    // bars of size read true.
    let ylo = if ylo >= 0.0 && (bars || ylo < 0.5 * yhi) {
        0.0
    } else {
        ylo
    };
    let (yticks, ystep) = nice_ticks(ylo, yhi, 5);
    let (xticks, x0, x1) = x_ticks(chart, &xs);
    let frame = Frame {
        x0,
        x1,
        y0: yticks.first().copied().unwrap_or(0.0),
        y1: yticks.last().copied().unwrap_or(1.0),
        log: chart.x_axis == XAxis::Log && x0 > 0.0,
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" data-chart="{}" data-series="{}" data-points="{}">"#,
        escape(&chart.id),
        chart.series.len(),
        chart.point_count()
    );
    let _ = write!(
        s,
        r#"<title>{}</title><text class="title" x="{}" y="20" text-anchor="middle">{}</text>"#,
        escape(&chart.title),
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        escape(&chart.title)
    );
    axes(&mut s, chart, &frame, &xticks, &yticks, ystep);
    // Series at the same x are shifted apart a little so error bars stay
    // visible; bars stand side by side within their category.
    let n = chart.series.len() as f64;
    let spread = (40.0 / n).min(4.0);
    let slot = (WIDTH - LEFT - RIGHT) / (frame.x1 - frame.x0).max(1.0);
    let bar_width = (0.8 * slot / n).min(28.0);
    for (i, series) in chart.series.iter().enumerate() {
        let offset = i as f64 - (n - 1.0) / 2.0;
        let (dodge, width) = match series.mark {
            Mark::Line => (offset * spread, 0.0),
            Mark::Bars => (offset * bar_width, bar_width),
            Mark::Dots | Mark::Trace => (0.0, 0.0),
        };
        draw_series(&mut s, series, i, &frame, dodge, width);
    }
    if let Some(front) = &chart.front {
        draw_front(&mut s, front, &frame);
    }
    for guide in &chart.guides {
        draw_guide(&mut s, guide, &frame);
    }
    legend(&mut s, chart);
    s.push_str("</svg>");
    s
}

fn axes(
    s: &mut String,
    chart: &Chart,
    f: &Frame,
    xticks: &[(f64, String)],
    yticks: &[f64],
    ystep: f64,
) {
    let (left, right) = (LEFT, WIDTH - RIGHT);
    let (top, bottom) = (TOP, HEIGHT - BOTTOM);
    s.push_str(r#"<g class="axes">"#);
    for y in yticks {
        let py = f.py(*y);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{left}" x2="{right}" y1="{py:.1}" y2="{py:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 6.0,
            py + 4.0,
            tick_label(*y, ystep)
        );
    }
    let widest = xticks
        .iter()
        .map(|(_, l)| l.chars().count() as f64 * CHAR_WIDTH)
        .fold(0.0, f64::max);
    let every = thin(xticks.len(), widest, right - left);
    for (i, (x, label)) in xticks.iter().enumerate() {
        let px = f.px(*x);
        let _ = write!(
            s,
            r#"<line class="tickmark" x1="{px:.1}" x2="{px:.1}" y1="{bottom}" y2="{}"/>"#,
            bottom + 5.0
        );
        if i % every == 0 {
            let _ = write!(
                s,
                r#"<text class="tick" x="{px:.1}" y="{}" text-anchor="middle">{}</text>"#,
                bottom + 18.0,
                escape(label)
            );
        }
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/><line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>"#
    );
    let _ = write!(
        s,
        r#"<text class="label" x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (left + right) / 2.0,
        HEIGHT - 12.0,
        escape(&chart.x_label)
    );
    let _ = write!(
        s,
        r#"<text class="label" transform="translate(16 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (top + bottom) / 2.0,
        escape(&chart.y_label)
    );
    s.push_str("</g>");
}

fn colour(i: usize) -> (&'static str, &'static str) {
    let dash = match (i / PALETTE.len()) % 3 {
        0 => "",
        1 => "6 3",
        _ => "2 2",
    };
    (PALETTE[i % PALETTE.len()], dash)
}

/// Draws one series, shifted `dodge` pixels; `width` is the width of its
/// bars (for [`Mark::Bars`]).
fn draw_series(s: &mut String, series: &Series, i: usize, f: &Frame, dodge: f64, width: f64) {
    let (color, dash) = colour(i);
    let _ = write!(
        s,
        r#"<g class="series" data-name="{}" data-points="{}" stroke="{color}" fill="{color}">"#,
        escape(&series.name),
        series.points.len()
    );
    if matches!(series.mark, Mark::Line | Mark::Trace) && series.points.len() > 1 {
        let mut pts: Vec<&Point> = series.points.iter().collect();
        pts.sort_by(|a, b| a.x.total_cmp(&b.x));
        let path: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", f.px(p.x) + dodge, f.py(p.y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke-width="2" stroke-dasharray="{dash}" points="{}"/>"#,
            path.join(" ")
        );
    }
    if series.mark != Mark::Trace {
        for p in &series.points {
            let (px, py) = (f.px(p.x) + dodge, f.py(p.y));
            if series.mark == Mark::Bars {
                let base = f.py(f.y0.max(0.0));
                let _ = write!(
                    s,
                    r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill-opacity="0.75"><title>{}</title></rect>"#,
                    px - width / 2.0,
                    py.min(base),
                    (width - 1.0).max(1.0),
                    (base - py).abs(),
                    escape(&p.tip)
                );
            }
            if let Some(e) = p.err.filter(|e| *e > 0.0) {
                let (a, b) = (f.py(p.y - e), f.py(p.y + e));
                let _ = write!(
                    s,
                    r#"<path class="err" stroke-width="1.2" fill="none" d="M{px:.1},{a:.1}V{b:.1}M{:.1},{a:.1}H{:.1}M{:.1},{b:.1}H{:.1}"/>"#,
                    px - 3.0,
                    px + 3.0,
                    px - 3.0,
                    px + 3.0
                );
            }
            if series.mark != Mark::Bars {
                let _ = write!(
                    s,
                    r#"<circle class="pt" cx="{px:.1}" cy="{py:.1}" r="3.2"><title>{}</title></circle>"#,
                    escape(&p.tip)
                );
            }
        }
    }
    s.push_str("</g>");
}

/// Colour of a guide: its series', or dark red.
fn guide_colour(guide: &Guide) -> &'static str {
    guide.series.map_or("#b2182b", |i| colour(i).0)
}

fn draw_guide(s: &mut String, guide: &Guide, f: &Frame) {
    let (x1, x2, y1, y2, lx, ly, anchor) = match guide.axis {
        GuideAxis::Horizontal => {
            let y = f.py(guide.value);
            let (l, r) = (LEFT, WIDTH - RIGHT);
            (l, r, y, y, r - 4.0, y - 4.0, "end")
        }
        GuideAxis::Vertical => {
            let x = f.px(guide.value);
            let (t, b) = (TOP, HEIGHT - BOTTOM);
            (x, x, t, b, x + 3.0, t + 10.0, "start")
        }
    };
    let colour = guide_colour(guide);
    let label = if guide.axis == GuideAxis::Horizontal {
        format!(
            r#"<text class="tick" x="{lx:.1}" y="{ly:.1}" text-anchor="{anchor}" fill="{colour}">{}</text>"#,
            escape(&guide.label)
        )
    } else {
        String::new()
    };
    let _ = write!(
        s,
        r#"<line class="guide" data-axis="{}" data-value="{}" x1="{x1:.1}" x2="{x2:.1}" y1="{y1:.1}" y2="{y2:.1}" stroke="{colour}" stroke-width="1.4" stroke-dasharray="4 3"><title>{}</title></line>{label}"#,
        match guide.axis {
            GuideAxis::Horizontal => "y",
            GuideAxis::Vertical => "x",
        },
        guide.value,
        escape(&guide.label)
    );
}

fn draw_front(s: &mut String, front: &[Point], f: &Frame) {
    let mut pts: Vec<&Point> = front.iter().collect();
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    let _ = write!(
        s,
        r##"<g class="front" data-points="{}" stroke="#222" fill="none">"##,
        pts.len()
    );
    // A step line: what the best configurations achieve at each latency.
    let mut d = String::new();
    for (i, p) in pts.iter().enumerate() {
        let (px, py) = (f.px(p.x), f.py(p.y));
        if i == 0 {
            let _ = write!(d, "M{px:.1},{py:.1}");
        } else {
            let _ = write!(d, "H{px:.1}V{py:.1}");
        }
    }
    let _ = write!(
        s,
        r#"<path stroke-width="1.5" stroke-dasharray="5 3" d="{d}"/>"#
    );
    for p in &pts {
        let _ = write!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="6.5" stroke-width="1.8"><title>Pareto front: {}</title></circle>"#,
            f.px(p.x),
            f.py(p.y),
            escape(&p.tip)
        );
    }
    s.push_str("</g>");
}

fn legend(s: &mut String, chart: &Chart) {
    let x = WIDTH - RIGHT + 14.0;
    let mut y = TOP + 4.0;
    s.push_str(r#"<g class="legend">"#);
    let shown = if chart.series.len() > LEGEND_ROWS {
        LEGEND_ROWS - 1
    } else {
        chart.series.len()
    };
    for (i, series) in chart.series.iter().take(shown).enumerate() {
        let (color, dash) = colour(i);
        let name: String = if series.name.chars().count() > LEGEND_CHARS {
            let cut: String = series.name.chars().take(LEGEND_CHARS - 1).collect();
            format!("{cut}…")
        } else {
            series.name.clone()
        };
        let _ = write!(
            s,
            r#"<g><title>{}</title><line x1="{x}" x2="{}" y1="{y}" y2="{y}" stroke="{color}" stroke-width="3" stroke-dasharray="{dash}"/><text class="tick" x="{}" y="{}">{}</text></g>"#,
            escape(&series.name),
            x + 16.0,
            x + 21.0,
            y + 4.0,
            escape(&name)
        );
        y += 17.0;
    }
    if shown < chart.series.len() {
        let _ = write!(
            s,
            r#"<text class="tick" x="{x}" y="{}">… {} more</text>"#,
            y + 4.0,
            chart.series.len() - shown
        );
        y += 17.0;
    }
    if chart.front.is_some() {
        let _ = write!(
            s,
            r##"<g><line x1="{x}" x2="{}" y1="{y}" y2="{y}" stroke="#222" stroke-width="1.5" stroke-dasharray="5 3"/><text class="tick" x="{}" y="{}">Pareto front</text></g>"##,
            x + 16.0,
            x + 21.0,
            y + 4.0
        );
    }
    s.push_str("</g>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            err: Some(0.5),
            tip: format!("{x} <{y}>"),
        }
    }

    fn chart() -> Chart {
        Chart {
            id: "ttft".into(),
            title: "TTFT p50".into(),
            x_label: "scheduler.max_num_batched_tokens".into(),
            y_label: "TTFT p50 (ms)".into(),
            x_axis: XAxis::Linear,
            series: vec![
                Series {
                    name: "fcfs".into(),
                    points: vec![
                        point(2048.0, 10.0),
                        point(8192.0, 12.0),
                        point(16384.0, 9.0),
                    ],
                    mark: Mark::Line,
                },
                Series {
                    name: "sof".into(),
                    points: vec![point(2048.0, 7.0), point(8192.0, 8.0)],
                    mark: Mark::Line,
                },
            ],
            front: None,
            guides: Vec::new(),
        }
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (ticks, step) = nice_ticks(0.3, 9.2, 5);
        assert_eq!(step, 2.0);
        assert_eq!(ticks, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let (ticks, step) = nice_ticks(2048.0, 16384.0, 6);
        assert_eq!(step, 5000.0);
        assert_eq!(ticks.first(), Some(&0.0));
        assert_eq!(ticks.last(), Some(&20000.0));
        assert_eq!(tick_label(15000.0, 5000.0), "15k");
        assert_eq!(tick_label(0.25, 0.05), "0.25");
        assert_eq!(tick_label(3.0, 1.0), "3");
        assert_eq!(tick_label(0.0, 5000.0), "0");
        assert_eq!(plain_number(20.0), "20");
        assert_eq!(plain_number(0.25), "0.25");
        assert_eq!(plain_number(1.0 / 3.0), "0.3333");
        let (ticks, _) = nice_ticks(5.0, 5.0, 5);
        assert!(ticks.len() >= 2 && ticks[0] < 5.0 && *ticks.last().unwrap() > 5.0);
        let (ticks, _) = nice_ticks(0.0, 0.0, 5);
        assert_eq!(
            (ticks[0], *ticks.last().unwrap()),
            (0.0, 1.0),
            "zeros sit on the axis"
        );
        assert_eq!(short_number(1234.567), "1235");
        assert_eq!(short_number(0.012345), "0.01235");
    }

    #[test]
    fn counts_series_points_and_error_bars() {
        let svg = render(&chart());
        assert!(svg.contains(r#"data-series="2" data-points="5""#), "{svg}");
        assert_eq!(svg.matches(r#"<g class="series""#).count(), 2);
        assert_eq!(svg.matches(r#"class="pt""#).count(), 5);
        assert_eq!(svg.matches(r#"class="err""#).count(), 5);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("8192 &lt;12&gt;"), "tooltips are escaped");
        assert!(svg.contains(">scheduler.max_num_batched_tokens</text>"));
        assert!(svg.contains(">TTFT p50 (ms)</text>"));
        assert!(!svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn long_category_labels_are_thinned_and_legends_cut() {
        let mut c = chart();
        let names: Vec<String> = (0..40).map(|i| format!("category-number-{i}")).collect();
        c.x_axis = XAxis::Categories(names);
        c.series = (0..20)
            .map(|i| Series {
                name: format!("a very long series name number {i}"),
                points: vec![point(f64::from(i), 1.0)],
                mark: Mark::Dots,
            })
            .collect();
        let svg = render(&c);
        let labels = svg.matches(">category-number-").count();
        assert!(labels < 40 && labels > 3, "{labels} labels");
        assert!(svg.contains("… 5 more"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 0, "dots only");
    }

    #[test]
    fn a_front_is_marked_as_a_step_line() {
        let mut c = chart();
        c.front = Some(vec![point(1.0, 1.0), point(2.0, 3.0)]);
        let svg = render(&c);
        assert!(svg.contains(r#"<g class="front" data-points="2""#), "{svg}");
        assert!(svg.contains(">Pareto front</text>"));
    }
}
