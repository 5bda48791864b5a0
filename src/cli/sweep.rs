//! `inference-lab sweep MANIFEST`: expand, run in parallel, write the tables.

use super::args::{MergeArgs, ShardSpec, SweepArgs, SweepCommand};
use super::progress::SweepBar;
use super::shard::auto_shard;
use super::work::{warning, Scope};
use super::{print_stderr, Failure, Outcome, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNS_FAILED};
use crate::report::console::{best_points_report, capacity_report};
use crate::sweep::layout::Layout;
use crate::sweep::manifest::Manifest;
use crate::sweep::plan::Plan;
use crate::sweep::runner::{self, RunnerOptions};
use crate::sweep::runs_table::{swept_cell, swept_types};
use crate::sweep::search::spec::SearchSpec;
use crate::sweep::stamp;
use crate::table::schema::{BINDING_BOUND, BINDING_SLO, CAPACITY, STATUS, STATUS_OK};
use crate::table::{Cell, Table};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Runs the sweep the flags describe, or its subcommand.
pub fn sweep(args: &SweepArgs) -> Outcome {
    let manifest_path = match (&args.command, &args.manifest) {
        (Some(SweepCommand::Merge(merge_args)), _) => return merge(merge_args),
        (Some(SweepCommand::Report(report)), _) => return super::sweep_report::report(report),
        (None, Some(path)) => path,
        // clap requires MANIFEST without a subcommand.
        (None, None) => return Err(Failure::usage("no sweep manifest given")),
    };
    if let (Some(n), false) = (args.shards, matches!(args.shard, Some(ShardSpec::Auto))) {
        return Err(Failure::usage(format!(
            "--shards {n} is read only with --shard auto (the shard count a Kubernetes Indexed Job does not give); with --shard I/N the count is N"
        )));
    }
    let style = super::detect_style(args.no_color);
    let manifest = Manifest::load(manifest_path)?;
    if args.dry_run {
        super::print_stdout(&dry_run(&Plan::build(manifest)?))?;
        return Ok(EXIT_OK);
    }
    let shard = match args.shard {
        None => None,
        Some(ShardSpec::Fixed(s)) => Some(s),
        Some(ShardSpec::Auto) => Some(
            auto_shard(|k| std::env::var(k).ok(), args.shards.map(|n| n as usize))
                .map_err(Failure::usage)?,
        ),
    };
    let output = args.output.clone().or_else(|| manifest.output.clone());
    let layout = output.as_deref().map(|o| Layout::new(o, shard));
    // A resumed sweep takes its planning pass from the directory's cache;
    // --force (redo everything) plans afresh. The plan's errors (a missing
    // base config) come before a missing output directory.
    let plan = match (&layout, shard, args.force) {
        (Some(layout), _, false) => Plan::build_cached(manifest, shard, &layout.plan_cache())?,
        (_, Some(s), _) => Plan::build_slice(manifest, s)?,
        (_, None, _) => Plan::build(manifest)?,
    };
    let layout = layout.ok_or_else(|| {
        Failure::usage(format!(
            "{}: no output directory: pass -o DIR or set sweep.output in the manifest",
            manifest_path.display()
        ))
    })?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let stop = interrupt_flag();
    if !args.quiet {
        let shard = shard.map(|s| format!(", shard {s}")).unwrap_or_default();
        print_stderr(&format!(
            "{}\n",
            style.dim(&format!(
                "sweep '{}': {} points{shard}, {} threads -> {}",
                plan.manifest.name,
                plan.len(),
                jobs,
                layout.root().display()
            ))
        ));
    }
    let (work, points) = plan.work();
    if let Some(line) = warning(&work, args.per_request, Scope::Sweep { points }, style) {
        // A finished sweep that nothing changed runs nothing: no work to
        // warn of (looked at only when there is a warning; the runner looks
        // again under the directory's lock).
        if args.force || !stamp::is_current(&plan, &layout, args.per_request) {
            print_stderr(&line);
        }
    }
    let bar = SweepBar::new(!args.quiet, style);
    // Runs that panic are recorded as failed runs; the message goes into
    // the table, not over the bar.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = runner::run(
        &plan,
        &layout,
        manifest_path,
        &RunnerOptions {
            jobs,
            force: args.force,
            per_request: args.per_request,
            run_files: args.run_files,
            shard,
            stop: &stop,
        },
        &|event| bar.on(event),
    );
    std::panic::set_hook(previous_hook);
    bar.finish();
    let outcome = outcome?;
    if outcome.up_to_date && !args.quiet {
        print_stderr(&format!(
            "{}\n",
            style.dim(
                "nothing changed since this sweep finished: its tables are current (pass --force to redo every run)"
            )
        ));
    }
    let meta = &outcome.meta;
    let search = plan.strategy.search();
    if let (Some(spec), Some(capacity)) = (search, &outcome.tables.capacity) {
        print_stderr(&bound_warnings(spec, capacity));
    }
    if !args.quiet {
        let report = match (search, &outcome.tables.capacity_summary) {
            (Some(spec), Some(summary)) => capacity_report(summary, &spec.over, style),
            _ => best_points_report(&outcome.tables.summary, style),
        };
        super::print_stdout(&format!(
            "{}\n{} points, {} runs: {} ok ({} reused), {} failed. Tables in {}\n",
            report,
            meta.points_here,
            meta.ok + meta.failed,
            meta.ok,
            meta.reused,
            meta.failed,
            layout.root().display()
        ))?;
    }
    if outcome.interrupted {
        print_stderr(&format!(
            "interrupted: {} of {} points done; run the same command again to resume (finished runs are kept)\n",
            meta.points_here - meta.not_run,
            meta.points_here
        ));
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(failures_exit_code(
        meta.failed,
        meta.ok + meta.failed,
        &layout,
    ))
}

/// Warnings about searches the bounds cut short: points that still meet
/// every SLO at the upper bound (their capacity is at least the bound), and
/// points that fail at the lower bound (no capacity).
fn bound_warnings(spec: &SearchSpec, capacity: &Table) -> String {
    let column = |name| capacity.column(name);
    let (Some(binding), Some(cap), Some(status)) =
        (column(BINDING_SLO), column(CAPACITY), column(STATUS))
    else {
        return String::new();
    };
    let total = capacity.rows.len();
    let at_top = capacity
        .rows
        .iter()
        .filter(|r| r[binding] == Cell::Text(BINDING_BOUND.into()))
        .count();
    let at_bottom = capacity
        .rows
        .iter()
        .filter(|r| r[cap] == Cell::Null && r[status] == Cell::Text(STATUS_OK.into()))
        .count();
    let mut text = String::new();
    if at_top > 0 {
        text.push_str(&format!(
            "warning: {at_top} of {total} points still meet every SLO at the upper bound search.bounds = {}: their capacity is at least that; raise search.bounds to find it\n",
            spec.bounds.hi().to_toml()
        ));
    }
    if at_bottom > 0 {
        text.push_str(&format!(
            "warning: {at_bottom} of {total} points fail an SLO at the lower bound search.bounds = {}: no capacity (their binding_slo names the SLO); lower search.bounds to find it\n",
            spec.bounds.lo().to_toml()
        ));
    }
    text
}

/// Exit code 3, with a message, when any run failed.
fn failures_exit_code(failed: usize, total: usize, layout: &Layout) -> u8 {
    if failed == 0 {
        return EXIT_OK;
    }
    print_stderr(&format!(
        "error: {failed} of {total} runs failed; their errors are in the error column of {}\n",
        layout.runs_csv().display()
    ));
    EXIT_RUNS_FAILED
}

/// `sweep merge DIR... -o OUT`.
fn merge(args: &MergeArgs) -> Outcome {
    let inputs: Vec<_> = args
        .dirs
        .iter()
        .map(|d| ("a directory to merge", d.as_path()))
        .collect();
    super::outputs::check_outputs(&inputs, &[("-o", &args.output)])?;
    let merged = crate::sweep::merge::merge(&args.dirs, &args.output)?;
    let meta = &merged.meta;
    let layout = Layout::new(&args.output, None);
    if !args.quiet {
        super::print_stdout(&format!(
            "merged {} directories: {} of {} points ({} runs ok, {} failed) into {}\n",
            args.dirs.len(),
            meta.points - meta.not_run,
            meta.points,
            meta.ok,
            meta.failed,
            args.output.display()
        ))?;
    }
    if !merged.missing.is_empty() {
        const SHOWN: usize = 20;
        let mut list: Vec<String> = merged
            .missing
            .iter()
            .take(SHOWN)
            .map(usize::to_string)
            .collect();
        if merged.missing.len() > SHOWN {
            list.push(format!("and {} more", merged.missing.len() - SHOWN));
        }
        let parent = args.dirs[0]
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let commands: Vec<String> = merged
            .shards_to_rerun
            .iter()
            .map(|s| {
                format!(
                    "inference-lab sweep {} --shard {s} -o {}",
                    merged.manifest.display(),
                    parent.display()
                )
            })
            .collect();
        let indices: Vec<String> = merged
            .shards_to_rerun
            .iter()
            .map(|s| s.index.to_string())
            .collect();
        print_stderr(&format!(
            "error: {} of {} points have no result: {}; rerun shard index(es) {}: {}\n",
            merged.missing.len(),
            meta.points,
            list.join(", "),
            indices.join(", "),
            commands.join("; ")
        ));
        return Ok(EXIT_RUNS_FAILED);
    }
    Ok(failures_exit_code(
        meta.failed,
        meta.ok + meta.failed,
        &layout,
    ))
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
            print_stderr(
                "\nstopping: finishing the runs in progress (Ctrl-C again to quit at once)\n",
            );
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
    let kinds = swept_types(plan);
    let mut header = vec!["point".to_string(), "run_id".to_string()];
    header.extend(keys.iter().map(|k| (*k).to_string()));
    let mut rows = vec![header];
    for p in plan.points() {
        let mut row = vec![p.index.to_string(), p.run_id.to_string()];
        row.extend(
            p.values
                .iter()
                .zip(&kinds)
                .map(|(v, kind)| swept_cell(v, *kind).to_string()),
        );
        if let Some(e) = p.error() {
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
        plan.len(),
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
