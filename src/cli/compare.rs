//! `inference-lab compare -c CONFIG --measured FILE`: simulate a config as a
//! run does and set every metric a benchmark measured against the
//! simulated one, with the relative error and the MAPE over them.

use super::args::{CompareArgs, MeasuredFormat};
use super::progress::ProgressOptions;
use super::run::{dataset_inputs, load_config, simulate, ConfigFlags};
use super::{accuracy::percent, Outcome, EXIT_OK};
use crate::io::files::write_atomic;
use crate::io::measured::{self, Format, MeasuredFile};
use crate::io::Error;
use crate::metrics::catalog::metric_cells;
use crate::metrics::comparison::{self, Comparison};
use crate::report::style::Style;
use serde_json::{json, Value as Json};
use std::fmt::Write;

impl From<MeasuredFormat> for Format {
    fn from(f: MeasuredFormat) -> Self {
        match f {
            MeasuredFormat::Vllm => Format::Vllm,
            MeasuredFormat::InferencePerf => Format::InferencePerf,
            MeasuredFormat::Csv => Format::Csv,
        }
    }
}

/// Reads the measured file, simulates the config, prints the comparison and writes `-o`.
pub fn compare(args: &CompareArgs) -> Outcome {
    let style = super::detect_style(args.no_color);
    if let Some(output) = &args.output {
        super::outputs::check_outputs(
            &[
                ("the config file", &args.config),
                ("the measured file (--measured)", &args.measured),
            ],
            &[("-o", output)],
        )?;
    }
    // A bad measured file fails before the simulation, not after it.
    let file = measured::read(&args.measured, args.format.map(Format::from))?;
    let (config, config_path) = load_config(
        &ConfigFlags {
            config: Some(&args.config),
            set: &args.set,
            seed: args.seed,
            quiet: args.quiet,
        },
        style,
    )?;
    let dataset = dataset_inputs(args.tokenizer.as_deref(), args.chat_template.as_deref());
    let options = ProgressOptions {
        bar: !args.quiet,
        verbose: false,
        debug: false,
        style,
    };
    let output = simulate(&config, config_path.as_deref(), &dataset, options, None)?;
    let result = serde_json::to_value(&output.result).unwrap_or_default();
    let comparison = Comparison::new(&metric_cells(&result), &file.measured);
    if let Some(path) = &args.output {
        let text = serde_json::to_string_pretty(&to_json(args, &file, &comparison))
            .map_err(|e| Error::write_with(path, e))?;
        write_atomic(path, format!("{text}\n").as_bytes())
            .map_err(|e| Error::write_as("the comparison to", path, e))?;
    }
    if !args.quiet {
        let mut text = report(args, &file, &comparison, style);
        if let Some(path) = &args.output {
            let note = format!("Comparison written to {}", path.display());
            let _ = writeln!(text, "{}", style.dim(&note));
        }
        super::print_stdout(&text)?;
    }
    Ok(EXIT_OK)
}

/// A value in its metric's unit, or `-` for none.
fn value(metric: &str, v: Option<f64>) -> String {
    match (v, comparison::unit(metric)) {
        (Some(v), Some(unit)) => unit.format(v),
        (Some(v), None) => format!("{v}"),
        (None, _) => "-".into(),
    }
}

/// The console table: one row per metric, then the MAPE and the skipped keys.
fn report(args: &CompareArgs, file: &MeasuredFile, c: &Comparison, style: Style) -> String {
    let mut out = format!(
        "{}\n\n",
        style.heading(&format!(
            "{} simulated against {} ({})",
            args.config.display(),
            args.measured.display(),
            file.format.describe()
        ))
    );
    let mut lines = vec![[
        "metric".to_string(),
        "simulated".into(),
        "measured".into(),
        "error".into(),
        "measured as".into(),
    ]];
    for m in &c.metrics {
        lines.push([
            m.metric.to_string(),
            value(m.metric, m.simulated),
            value(m.metric, Some(m.measured)),
            m.relative_error.map_or_else(|| "-".into(), percent),
            m.source.clone(),
        ]);
    }
    let width = |i: usize| {
        lines
            .iter()
            .map(|l| l[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2), width(3)];
    for (i, l) in lines.iter().enumerate() {
        let text = format!(
            "  {:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {}",
            l[0],
            l[1],
            l[2],
            l[3],
            l[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
        let _ = writeln!(out, "{}", if i == 0 { style.heading(&text) } else { text });
    }
    out.push('\n');
    let summary = match c.mape {
        Some(mape) => format!("MAPE {:.1}% over {} metrics", mape * 100.0, c.mape_metrics),
        None => "MAPE -: no metric has both a simulated and a nonzero measured value".into(),
    };
    let _ = write!(out, "{}", style.value(&summary));
    let left_out: Vec<&str> = c
        .metrics
        .iter()
        .filter(|m| !m.averaged)
        .map(|m| m.metric)
        .collect();
    if !left_out.is_empty() {
        let _ = write!(out, " (shown, not averaged: {})", left_out.join(", "));
    }
    out.push('\n');
    if !c.skipped.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            style.dim(&format!(
                "Skipped, no simulator counterpart ({}): {}",
                c.skipped.len(),
                c.skipped.join(", ")
            ))
        );
    }
    out
}

/// The `-o` document.
fn to_json(args: &CompareArgs, file: &MeasuredFile, c: &Comparison) -> Json {
    json!({
        "config": args.config.display().to_string(),
        "measured": args.measured.display().to_string(),
        "format": file.format.name(),
        "metrics": c.metrics,
        "skipped": c.skipped,
        "mape": c.mape,
        "mape_metrics": c.mape_metrics,
    })
}
