//! `inference-lab predict-steps`: prices each step of a step table with the
//! simulator's cost model and, where the table has measurements, says how far
//! off the prices are.

use super::accuracy::{accuracy_line, percent};
use super::args::PredictStepsArgs;
use super::{print_stderr, Outcome, EXIT_OK};
use crate::calibration::{Accuracy, StepModels};
use crate::io::config_file::{read_calibration_file, read_config, read_steps};
use crate::io::files::write_atomic;
use crate::io::Error;
use std::fmt::Write as _;

/// Writes the table with `predicted_ms` (and `error_pct`) and prints a summary.
pub fn predict_steps(args: &PredictStepsArgs) -> Outcome {
    if let Some(output) = &args.output {
        let mut inputs = vec![
            ("the config file (-c)", args.config.as_path()),
            ("the step table (--steps)", &args.steps),
        ];
        if let Some(calibration) = &args.calibration {
            inputs.push(("the calibration file (--calibration)", calibration));
        }
        super::outputs::check_outputs(&inputs, &[("-o", output)])?;
    }
    let mut config = read_config(&args.config)?;
    if let Some(path) = &args.calibration {
        config.server.hardware.calibration = read_calibration_file(path)?.1;
    }
    let table = read_steps(&args.steps)?;
    let models = StepModels::new(&config.server, &table.steps);
    let measured = table.is_measured();
    let predicted: Vec<f64> = table
        .steps
        .iter()
        .map(|s| models.of(s).step_cost(&models.shape(s)).secs)
        .collect();
    let errors: Vec<f64> = table
        .steps
        .iter()
        .zip(&predicted)
        .filter_map(|(s, p)| s.measured_secs.map(|m| p / m - 1.0))
        .collect();

    let mut csv = table.header.join(",");
    csv.push_str(if measured {
        ",predicted_ms,error_pct\n"
    } else {
        ",predicted_ms\n"
    });
    for (i, (cells, secs)) in table.cells.iter().zip(&predicted).enumerate() {
        let _ = write!(csv, "{},{:.4}", cells.join(","), secs * 1e3);
        if measured {
            let _ = write!(csv, ",{:.2}", errors[i] * 100.0);
        }
        csv.push('\n');
    }

    let source = args.steps.display();
    let mut summary = format!(
        "{} steps of {source} priced for {} on {} ({})",
        table.steps.len(),
        config.server.model.name,
        config.server.hardware.name,
        if config.server.hardware.calibration == crate::config::Calibration::DATASHEET {
            "datasheet, uncalibrated"
        } else {
            "calibrated"
        }
    );
    let kinds: Vec<_> = table.steps.iter().map(|s| s.kind).collect();
    if let Some(a) = measured.then(|| Accuracy::of(&kinds, &errors)).flatten() {
        let worst = &table.steps[a.worst];
        let _ = write!(
            summary,
            "\n{}\nlargest error: {} at line {} ({})",
            accuracy_line(&a),
            percent(errors[a.worst]),
            worst.line,
            worst.kind.name()
        );
    }
    match &args.output {
        Some(path) => {
            write_atomic(path, csv.as_bytes()).map_err(|e| Error::write(path, e))?;
            super::print_stdout(&format!("{summary}\nwritten to {}\n", path.display()))?;
        }
        None => {
            super::print_stdout(&csv)?;
            print_stderr(&format!("{summary}\n"));
        }
    }
    Ok(EXIT_OK)
}
