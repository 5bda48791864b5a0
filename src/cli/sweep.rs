//! `inference-lab sweep MANIFEST`: expand, run in parallel, write the tables.

use super::args::{SweepArgs, SweepCommand};
use super::{EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK};
use crate::report::style::Style;
use crate::sweep::layout::Layout;
use crate::sweep::manifest::Manifest;
use crate::sweep::plan::Plan;
use crate::sweep::runner::{self, RunnerOptions};
use crate::sweep::summary;
use crate::sweep::table::{swept_cell, swept_type};
use anyhow::{anyhow, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Runs the sweep the flags describe.
pub fn sweep(args: &SweepArgs) -> Result<u8> {
    if let Some(SweepCommand::Report(report)) = &args.command {
        return super::sweep_report::report(report);
    }
    // clap requires MANIFEST when no subcommand is given.
    let Some(manifest_path) = args.manifest.as_deref() else {
        return Err(anyhow!("missing the sweep manifest"));
    };
    let style = Style::detect(args.no_color);
    let manifest = Manifest::load(manifest_path)?;
    let plan = Plan::build(manifest)?;
    if args.dry_run {
        print!("{}", dry_run(&plan));
        return Ok(EXIT_OK);
    }
    let output = args
        .output
        .clone()
        .or_else(|| plan.manifest.output.clone())
        .ok_or_else(|| {
            anyhow!(
                "{}: no output directory: pass -o DIR or set sweep.output in the manifest",
                manifest_path.display()
            )
        })?;
    let layout = Layout::new(&output, args.shard);
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let stop = interrupt_flag();
    if !args.quiet {
        let shard = args
            .shard
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default();
        eprintln!(
            "{}",
            style.dim(&format!(
                "sweep '{}': {} points{shard}, {} threads -> {}",
                plan.manifest.name,
                plan.points.len(),
                jobs,
                layout.root().display()
            ))
        );
    }
    let outcome = runner::run(
        &plan,
        &layout,
        &manifest_path.display().to_string(),
        &RunnerOptions {
            jobs,
            force: args.force,
            per_request: args.per_request,
            shard: args.shard,
            show_progress: !args.quiet,
            style,
            stop: &stop,
        },
    )?;
    let meta = &outcome.meta;
    if !args.quiet {
        print!("{}", summary::render(&outcome.table, &plan.keys(), style));
        println!(
            "\n{} runs: {} ok ({} reused), {} failed. Tables in {}",
            meta.points_here,
            meta.ok,
            meta.reused,
            meta.failed,
            layout.root().display()
        );
    }
    if outcome.interrupted {
        eprintln!(
            "interrupted: {} of {} points done; run the same command again to resume (finished runs are kept)",
            meta.ok + meta.failed,
            meta.points_here
        );
        return Ok(EXIT_INTERRUPTED);
    }
    if meta.failed > 0 {
        eprintln!(
            "error: {} of {} runs failed; their errors are in the error column of {}",
            meta.failed,
            meta.points_here,
            layout.runs_csv().display()
        );
        return Ok(EXIT_FAILURE);
    }
    Ok(EXIT_OK)
}

/// A flag that the first Ctrl-C sets (no new run starts; the tables of what
/// finished are written); a second Ctrl-C exits at once, losing nothing that
/// finished, since every run's result is already on disk.
fn interrupt_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let presses = AtomicUsize::new(0);
    let flag = Arc::clone(&stop);
    let installed = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            flag.store(true, Ordering::SeqCst);
            eprintln!("\nstopping: finishing the runs in progress (Ctrl-C again to quit at once)");
        } else {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
    // Without a handler (one was installed already) Ctrl-C simply ends the
    // process, which loses nothing that finished.
    drop(installed);
    stop
}

/// The `--dry-run` listing: the point count and one line per point.
fn dry_run(plan: &Plan) -> String {
    let keys = plan.keys();
    let kinds: Vec<_> = (0..keys.len())
        .map(|k| swept_type(plan.points.iter().map(|p| &p.values[k])))
        .collect();
    let mut header = vec!["point".to_string(), "run_id".to_string()];
    header.extend(keys.iter().map(|k| (*k).to_string()));
    let mut rows = vec![header];
    for p in &plan.points {
        let mut row = vec![p.index.to_string(), p.run_id.to_string()];
        row.extend(
            p.values
                .iter()
                .zip(&kinds)
                .map(|(v, kind)| swept_cell(v, *kind).to_string()),
        );
        if let Err(e) = &p.config {
            row.push(format!("invalid: {e}"));
        }
        rows.push(row);
    }
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = format!(
        "{}: {} points ({} invalid)\n",
        plan.manifest.source,
        plan.points.len(),
        plan.invalid_points()
    );
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text
}
