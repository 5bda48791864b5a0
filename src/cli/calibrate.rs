//! `inference-lab calibrate`: fits `hardware.calibration` to measured step
//! times, reports the fit before and after (and left-one-out), and writes the
//! calibration as a TOML file that configs name or inline.

use super::accuracy::accuracy_line;
use super::args::CalibrateArgs;
use super::{print_stderr, Outcome, EXIT_OK};
use crate::calibration::{
    fit, leave_one_out, plausibility_warnings, relative_errors, undetermined_warning, Accuracy,
    Sample, StepModels, MIN_SAMPLES,
};
use crate::config::Calibration;
use crate::io::config_file::{read_config, read_steps};
use crate::io::files::write_atomic;
use crate::io::Error;

/// Fits, reports, writes.
pub fn calibrate(args: &CalibrateArgs) -> Outcome {
    super::outputs::check_outputs(
        &[
            ("the config file (-c)", &args.config),
            ("the step table (--measured)", &args.measured),
        ],
        &[("-o", &args.output)],
    )?;
    let config = read_config(&args.config)?;
    let table = read_steps(&args.measured)?;
    let source = args.measured.display().to_string();
    if !table.is_measured() {
        return Err(Error::invalid(format!(
            "{source}: no median_ms column: calibrate needs the measured step times"
        ))
        .into());
    }
    if table.steps.len() < MIN_SAMPLES {
        return Err(Error::invalid(format!(
            "{source}: {} measured steps: the fit needs at least {MIN_SAMPLES} (one more than the step parameters it fits)",
            table.steps.len(),
        ))
        .into());
    }
    // Each step's work at its own tensor parallelism; the fit runs on the
    // config's model, whose per-GPU constants every model shares.
    let models = StepModels::new(&config.server, &table.steps);
    let model = models.base();
    let samples: Vec<Sample> = table
        .steps
        .iter()
        .filter_map(|s| {
            s.measured_secs.map(|measured_secs| Sample {
                work: models.of(s).work(&models.shape(s)),
                measured_secs,
            })
        })
        .collect();
    let kinds: Vec<_> = table.steps.iter().map(|s| s.kind).collect();
    let fitted = fit(model, &samples);
    let rows = [
        (
            "datasheet",
            relative_errors(model, &samples, &Calibration::DATASHEET),
        ),
        ("calibrated", relative_errors(model, &samples, &fitted)),
        ("leave-one-out", leave_one_out(model, &samples)),
    ];
    let mut report = format!(
        "{} measured steps of {source}, {} on {}\n",
        samples.len(),
        config.server.model.name,
        config.server.hardware.name
    );
    let mut comments = String::new();
    for (name, errors) in &rows {
        if let Some(a) = Accuracy::of(&kinds, errors) {
            let line = format!("{name:<14} {}", accuracy_line(&a));
            report.push_str(&line);
            report.push('\n');
            comments.push_str(&format!("#   {line}\n"));
        }
    }
    let layers = model.num_layers();
    report.push_str(&format!(
        "fitted: compute_efficiency {:.3}, bandwidth_efficiency {:.3}, step overhead {:.2} ms, eager floor {:.2} ms ({} layers)\n",
        fitted.compute_efficiency,
        fitted.bandwidth_efficiency,
        fitted.step_overhead_per_layer * layers * 1e3,
        fitted.eager_floor_per_layer * layers * 1e3,
        layers
    ));
    let file = format!(
        "# hardware.calibration fitted by `inference-lab calibrate` to {} measured steps of\n# {source}: {} on {} (datasheet {:e} FLOP/s, {:e} B/s).\n# Relative errors:\n{comments}{}",
        samples.len(),
        config.server.model.name,
        config.server.hardware.name,
        config.server.hardware.compute_flops,
        config.server.hardware.memory_bandwidth,
        fitted.to_toml()
    );
    write_atomic(&args.output, file.as_bytes()).map_err(|e| Error::write(&args.output, e))?;
    super::print_stdout(&format!("{report}written to {}\n", args.output.display()))?;
    let calibrated = Accuracy::of(&kinds, &rows[1].1);
    let warnings = undetermined_warning(&samples)
        .into_iter()
        .chain(plausibility_warnings(&fitted, calibrated.as_ref()));
    for warning in warnings {
        print_stderr(&format!("warning: {source}: {warning}\n"));
    }
    Ok(EXIT_OK)
}
