//! `inference-lab capacity -c CONFIG --slo COLUMN=MAX`: the capacity search
//! of a sweep's `[search]` section for one config, without a manifest or an
//! output directory. It builds a one-point plan and drives it through the
//! same strategy, verdicts, overload detector and capacity table as `sweep`.

use super::args::CapacityArgs;
use super::{print_stderr, Failure, Outcome, EXIT_OK, EXIT_RUNS_FAILED};
use crate::io::config_file::read_toml;
use crate::io::files::write_atomic;
use crate::io::workload::WorkloadSource;
use crate::io::Error;
use crate::metrics::catalog::metric;
use crate::report::html::svg::plain_number;
use crate::report::style::Style;
use crate::sweep::manifest::{Dimension, Manifest};
use crate::sweep::output::metric_template;
use crate::sweep::plan::Plan;
use crate::sweep::runner::simulate;
use crate::sweep::runs_table::{Outcome as RunOutcome, RunRow};
use crate::sweep::search::capacity::capacity_table;
use crate::sweep::search::spec::{check_slo_column, SearchSpec};
use crate::sweep::search::verdict::{verdict, Binding, Verdict};
use crate::sweep::store::result_json;
use crate::sweep::strategy::{drive_point, RunResultRef};
use crate::table::schema::{BINDING_BOUND, BINDING_SLO, CAPACITY, FAILS_AT};
use crate::table::{Cell, Column, Table};
use serde_json::{json, Map, Value as Json};
use std::time::Instant;
use toml::Value;

/// The key searched when `--over` names the concurrent users, whose default
/// bracket is integer.
const USERS_KEY: &str = "workload.num_concurrent_users";
/// `--bounds` when not given: for a rate, and for [`USERS_KEY`].
const DEFAULT_RATE_BOUNDS: [f64; 2] = [0.25, 64.0];
const DEFAULT_USERS_BOUNDS: [i64; 2] = [1, 256];
/// Metric columns the probe table shows besides the SLOs.
const SHOWN: [&str; 2] = ["ttft_ms_p50", "requests_per_sec"];

/// Runs the search the flags describe, prints it, and writes `-o`.
pub fn capacity(args: &CapacityArgs) -> Outcome {
    let style = super::detect_style(args.no_color);
    if let Some(output) = &args.output {
        super::outputs::check_outputs(
            &[("the config file (-c)", &args.config)],
            &[("-o", output)],
        )?;
    }
    // The config must be readable (the plan would name it sweep.base).
    read_toml(&args.config, "config file")?;
    let spec = search_spec(args)?;
    let plan = Plan::build(one_point_manifest(args, spec)?)?;
    let Some(spec) = plan.strategy.search() else {
        return Err(Failure::usage("no search"));
    };
    let point = &plan.point(0);
    if let Err(e) = plan.resolved(point) {
        return Err(Error::invalid(format!("{}: {e}", args.config.display())).into());
    }
    let template = metric_template(&plan)?;
    let source = WorkloadSource {
        config_path: Some(&plan.manifest.base),
        dataset: &plan.manifest.dataset,
        cache: None,
    };
    let runs = drive_point(&plan, &template, point, &mut |run| {
        let started = Instant::now();
        let simulated = run
            .config(&plan, point)
            .map_err(Error::invalid)
            .and_then(|config| simulate(config, run, &source, false));
        let outcome = match simulated {
            Ok(finished) => {
                let wall = started.elapsed().as_secs_f64();
                match result_json(finished.output.result, &[], finished.overload, wall) {
                    Ok(json) => RunOutcome::finished(&json, &template),
                    Err(e) => failed(e.to_string(), wall),
                }
            }
            Err(e) => failed(e.to_string(), started.elapsed().as_secs_f64()),
        };
        if !args.quiet {
            let (passed, reason) = judge(spec, &template, &outcome);
            let load = run
                .load
                .map(|l| l.to_toml().to_string())
                .unwrap_or_default();
            print_stderr(&format!(
                "{}\n",
                style.dim(&format!(
                    "probe {}: {} = {load}: {} {reason}",
                    run.probe.unwrap_or_default(),
                    spec.over,
                    if passed { "pass" } else { "fail" }
                ))
            ));
        }
        Some(RunResultRef {
            outcome,
            requests: None,
        })
    });
    let table = capacity_table(&plan, spec, &template, &runs.rows);
    if let Some(path) = &args.output {
        let text =
            serde_json::to_string_pretty(&to_json(args, spec, &template, &table, &runs.rows))
                .map_err(|e| Error::write_with(path, e))?;
        write_atomic(path, format!("{text}\n").as_bytes())
            .map_err(|e| Error::write_as("the search to", path, e))?;
    }
    let cell = |name: &str| {
        table
            .column(name)
            .map_or(Cell::Null, |c| table.rows[0][c].clone())
    };
    let warning = match (cell(CAPACITY), cell(BINDING_SLO)) {
        (_, Cell::Text(b)) if b == BINDING_BOUND => Some(format!(
            "warning: every SLO still holds at the upper bound {} = {}: the capacity is at least that; raise --bounds to find it\n",
            spec.over,
            spec.bounds.hi().to_toml()
        )),
        (Cell::Null, Cell::Text(b)) => Some(format!(
            "warning: {b} fails already at the lower bound {} = {}: no capacity; lower --bounds to find it\n",
            spec.over,
            spec.bounds.lo().to_toml()
        )),
        _ => None,
    };
    if let Some(w) = warning {
        print_stderr(&w);
    }
    if !args.quiet {
        super::print_stdout(&report(args, spec, &template, &table, &runs.rows, style))?;
    }
    let failures = runs.rows.iter().filter(|r| r.outcome.is_failed()).count();
    if failures > 0 {
        print_stderr(&format!(
            "error: {failures} of {} probes failed to run; their errors are in the probe table\n",
            runs.rows.len()
        ));
        return Ok(EXIT_RUNS_FAILED);
    }
    Ok(EXIT_OK)
}

fn failed(error: String, wall_seconds: f64) -> RunOutcome {
    RunOutcome::Failed {
        error,
        wall_seconds: Some(wall_seconds),
    }
}

/// The `[search]` section the flags describe, checked by the manifest's parser.
fn search_spec(args: &CapacityArgs) -> Result<SearchSpec, Failure> {
    let mut slo = toml::Table::new();
    for (column, max) in &args.slo {
        check_slo_column(column).map_err(|m| Failure::usage(format!("--slo {column}: {m}")))?;
        slo.insert(column.clone(), Value::Float(*max));
    }
    let mut search = toml::Table::new();
    search.insert("over".into(), Value::String(args.over.clone()));
    search.insert("bounds".into(), Value::Array(bounds(args)?));
    if let Some(t) = args.tolerance {
        search.insert("tolerance".into(), Value::Float(t));
    }
    search.insert("slo".into(), Value::Table(slo));
    SearchSpec::parse(&search, "capacity").map_err(|e| Failure::usage(flag_names(&e.to_string())))
}

/// A message of the `[search]` parser in terms of the flags.
fn flag_names(message: &str) -> String {
    message
        .replace("capacity: search.bounds", "--bounds")
        .replace("capacity: search.tolerance", "--tolerance")
        .replace("capacity: search.over", "--over")
        .replace("capacity: search.slo", "--slo")
}

/// `--bounds LO,HI` as TOML values (integers when both are), or the default.
fn bounds(args: &CapacityArgs) -> Result<Vec<Value>, Failure> {
    let Some(text) = &args.bounds else {
        return Ok(if args.over == USERS_KEY {
            DEFAULT_USERS_BOUNDS.map(Value::Integer).to_vec()
        } else {
            DEFAULT_RATE_BOUNDS.map(Value::Float).to_vec()
        });
    };
    let bad = || {
        Failure::usage(format!(
            "--bounds {text}: expected LO,HI (for example 0.5,32)"
        ))
    };
    let (lo, hi) = text.split_once(',').ok_or_else(bad)?;
    let (lo, hi) = (lo.trim(), hi.trim());
    if let (Ok(lo), Ok(hi)) = (lo.parse::<i64>(), hi.parse::<i64>()) {
        return Ok(vec![Value::Integer(lo), Value::Integer(hi)]);
    }
    match (lo.parse::<f64>(), hi.parse::<f64>()) {
        (Ok(lo), Ok(hi)) => Ok(vec![Value::Float(lo), Value::Float(hi)]),
        _ => Err(bad()),
    }
}

/// A manifest of one point: the config with `--set` and `--seed` applied
/// (each a one-value dimension, so the tables name them), searched by `spec`.
fn one_point_manifest(args: &CapacityArgs, spec: SearchSpec) -> Result<Manifest, Failure> {
    let mut settings = args.set.clone();
    if let Some(seed) = args.seed {
        let seed = i64::try_from(seed)
            .map_err(|_| Failure::usage(format!("--seed {seed}: expected a seed below 2^63")))?;
        settings.push(("workload.seed".into(), Value::Integer(seed)));
    }
    if let Some((key, _)) = settings.iter().find(|(k, _)| *k == spec.over) {
        return Err(Failure::usage(format!(
            "--set {key}: the search chooses its values (--over {key}); leave it out"
        )));
    }
    Ok(Manifest {
        source: args.config.display().to_string(),
        name: "capacity".into(),
        base: args.config.clone(),
        output: None,
        dataset: Default::default(),
        dimensions: settings
            .into_iter()
            .map(|(key, value)| Dimension {
                keys: vec![key],
                rows: vec![vec![value]],
            })
            .collect(),
        search: Some(spec),
        text_hash: 0,
    })
}

/// Whether a probe passed, and why not: the SLO it broke, the overload
/// detector's reason, or the run's error.
fn judge(spec: &SearchSpec, template: &[Column], outcome: &RunOutcome) -> (bool, String) {
    let reason = match (verdict(spec, template, outcome), outcome) {
        (Verdict::Pass, _) => return (true, String::new()),
        (_, RunOutcome::Failed { error, .. }) => format!("run failed: {error}"),
        (
            _,
            RunOutcome::Finished {
                overload: Some(why),
                ..
            },
        ) => format!("stopped early: {why}"),
        (Verdict::Fail(Binding::Slo(i)), _) => {
            let slo = &spec.slos[i];
            match metric_value(template, outcome, &slo.column) {
                Some(v) => format!("{} = {v:.2} > {}", slo.column, slo.max),
                None => format!("{} has no value", slo.column),
            }
        }
        (Verdict::Fail(b), _) => b.name(spec).to_string(),
    };
    (false, reason)
}

fn metric_value(template: &[Column], outcome: &RunOutcome, column: &str) -> Option<f64> {
    let RunOutcome::Finished { metrics, .. } = outcome else {
        return None;
    };
    let i = template.iter().position(|c| c.name == column)?;
    metrics.get(i)?.as_number()
}

/// The metric columns of the probe table: the SLOs, then [`SHOWN`].
fn shown_columns(spec: &SearchSpec) -> Vec<&str> {
    let mut columns: Vec<&str> = spec.slos.iter().map(|s| s.column.as_str()).collect();
    for c in SHOWN {
        if !columns.contains(&c) && metric(c).is_some() {
            columns.push(c);
        }
    }
    columns
}

/// The console report: the found load, where it fails and why, the goodput
/// and cost there, and the probe table in load order.
fn report(
    args: &CapacityArgs,
    spec: &SearchSpec,
    template: &[Column],
    table: &Table,
    rows: &[RunRow<'_>],
    style: Style,
) -> String {
    let cell = |name: &str| {
        table
            .column(name)
            .map_or(Cell::Null, |c| table.rows[0][c].clone())
    };
    let number = |name: &str| cell(name).as_number();
    let mut out = format!(
        "{}\n",
        style.heading(&format!(
            "Capacity of {}: highest {} with {}",
            args.config.display(),
            spec.over,
            spec.describe_slos()
        ))
    );
    let capacity = match cell(CAPACITY) {
        Cell::Null => "none (the lower bound fails)".to_string(),
        c => load_text(&c),
    };
    out.push_str(&format!("  capacity     {}\n", style.value(&capacity)));
    let fails_at = match cell(FAILS_AT) {
        Cell::Null => "above the upper bound".to_string(),
        c => load_text(&c),
    };
    out.push_str(&format!("  fails at     {fails_at}\n"));
    out.push_str(&format!("  binding SLO  {}\n", cell(BINDING_SLO)));
    if let (Some(r), Some(t)) = (
        number("goodput_requests_per_sec"),
        number("goodput_output_tokens_per_sec"),
    ) {
        out.push_str(&format!(
            "  goodput      {r:.3} requests/s, {t:.1} output tokens/s\n"
        ));
    }
    if let Some(c) = number("cost_per_million_output_tokens") {
        out.push_str(&format!(
            "  cost         ${c:.3} per million output tokens\n"
        ));
    }
    let columns = shown_columns(spec);
    let mut lines = vec![{
        let mut h = vec!["probe".to_string(), spec.over.clone(), "result".into()];
        h.extend(columns.iter().map(|c| (*c).to_string()));
        h.push("reason".into());
        h
    }];
    let mut order: Vec<&RunRow<'_>> = rows.iter().collect();
    order.sort_by(|a, b| {
        let load = |r: &RunRow<'_>| r.load.map_or(0.0, |l| l.as_f64());
        load(a).total_cmp(&load(b))
    });
    for row in order {
        let (passed, reason) = judge(spec, template, &row.outcome);
        let mut line = vec![
            row.probe.unwrap_or_default().to_string(),
            row.load
                .map(|l| load_text(&l.to_cell()))
                .unwrap_or_default(),
            if passed { "pass" } else { "fail" }.to_string(),
        ];
        line.extend(columns.iter().map(|c| {
            metric_value(template, &row.outcome, c).map_or_else(String::new, |v| format!("{v:.2}"))
        }));
        line.push(reason);
        lines.push(line);
    }
    let widths: Vec<usize> = (0..lines[0].len() - 1)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    out.push_str(&format!("\n{}\n", style.heading("Probes (by load)")));
    for line in lines {
        let mut text = String::from(" ");
        for (cell, w) in line.iter().zip(&widths) {
            text.push_str(&format!(" {cell:>w$}"));
        }
        text.push_str(&format!("  {}", line[line.len() - 1]));
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// A load as the console shows it: integers whole, rates as written when
/// short, else to four significant digits (the `-o` JSON and the tables
/// keep every digit).
fn load_text(cell: &Cell) -> String {
    match cell {
        Cell::Float(x) => plain_number(*x),
        other => other.to_string(),
    }
}

/// The `-o` document: the search, its result (the capacity table's row) and
/// every probe with its verdict and metrics.
fn to_json(
    args: &CapacityArgs,
    spec: &SearchSpec,
    template: &[Column],
    table: &Table,
    rows: &[RunRow<'_>],
) -> Json {
    let object = |columns: &[Column], cells: &[Cell]| -> Json {
        Json::Object(
            columns
                .iter()
                .zip(cells)
                .map(|(c, v)| (c.name.clone(), cell_json(v)))
                .collect::<Map<_, _>>(),
        )
    };
    let probes: Vec<Json> = rows
        .iter()
        .map(|row| {
            let (passed, reason) = judge(spec, template, &row.outcome);
            let (metrics, overload, error) = match &row.outcome {
                RunOutcome::Finished {
                    metrics, overload, ..
                } => (object(template, metrics), overload.clone(), None),
                RunOutcome::Failed { error, .. } => (Json::Null, None, Some(error.clone())),
            };
            json!({
                "probe": row.probe,
                "load": row.load.map_or(Json::Null, |l| cell_json(&l.to_cell())),
                "passed": passed,
                "reason": reason,
                "overload": overload,
                "error": error,
                "metrics": metrics,
            })
        })
        .collect();
    json!({
        "config": args.config.display().to_string(),
        "search": {
            "over": spec.over,
            "bounds": [cell_json(&spec.bounds.lo().to_cell()), cell_json(&spec.bounds.hi().to_cell())],
            "tolerance": spec.tolerance,
            "slo": spec.slos.iter().map(|s| (s.column.clone(), json!(s.max))).collect::<Map<_, _>>(),
        },
        "result": table.rows.first().map_or(Json::Null, |r| object(&table.columns, r)),
        "probes": probes,
    })
}

fn cell_json(cell: &Cell) -> Json {
    match cell {
        Cell::Null => Json::Null,
        Cell::Int(i) => json!(i),
        Cell::Float(x) => serde_json::Number::from_f64(*x).map_or(Json::Null, Json::Number),
        Cell::Text(s) => json!(s),
        Cell::Bool(b) => json!(b),
    }
}
