//! Calibration on the command line: `predict-steps` prices hand-computed
//! shapes, `calibrate` reaches the accuracy targets on the shipped H200
//! measurements, and configs take calibrations by file or inline. (Bad step
//! tables and calibration files: the error catalogue, tests/golden/errors.txt.)

mod common;
use common::*;
use std::fs;
use std::path::Path;

const MEASURED: &str = "tests/fixtures/h200-llama-3.1-8b-steps.csv";
const HEADER: &str = "kind,num_seqs,new_tokens_per_seq,context_tokens,prefill_chunk_tokens";

/// A Llama-3.1-8B-on-H200 config with `hardware_extra` lines under [hardware].
fn config(dir: &Path, hardware_extra: &str) -> String {
    let text = fs::read_to_string(shipped("configs/h200-llama-3.1-8b.toml")).unwrap();
    let text = text.replacen(
        "preset = \"h200\"",
        &format!("preset = \"h200\"\n{hardware_extra}"),
        1,
    );
    fs::write(dir.join("c.toml"), text).unwrap();
    "c.toml".to_string()
}

/// `calibrate` of the config [`config`] writes (no extra lines) on the
/// step table `measured` in `dir`, into `cal.toml`; expects exit code 0.
fn calibrate(dir: &Path, measured: &str) -> std::process::Output {
    let c = config(dir, "");
    let o = run(
        dir,
        &[
            "calibrate",
            "-c",
            &c,
            "--measured",
            measured,
            "-o",
            "cal.toml",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    o
}

fn predict(dir: &Path, config: &str, steps: &str, extra: &[&str]) -> std::process::Output {
    fs::write(dir.join("steps.csv"), steps).unwrap();
    let mut args = vec!["predict-steps", "-c", config, "--steps", "steps.csv"];
    args.extend_from_slice(extra);
    run(dir, &args)
}

/// The `predicted_ms` column of predict-steps' CSV output.
fn predicted_ms(csv: &str) -> Vec<f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|c| *c == "predicted_ms").unwrap();
    lines
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn predict_steps_prices_hand_computed_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let cal = "calibration = { compute_efficiency = 0.5, bandwidth_efficiency = 0.8, step_overhead_per_layer = 1e-5, eager_floor_per_layer = 2e-4 }";
    let c = config(dir.path(), cal);
    let o = predict(
        dir.path(),
        &c,
        &format!("{HEADER}\ndecode,1,1,1000,0\nprefill,1,4,0,0\nprefill,1,4096,0,0\n"),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = predicted_ms(&stdout(&o));
    // Llama-3.1-8B: layers 6,979,588,096 parameters, LM head 525,336,576; 32 layers;
    // KV 4096 B per token and layer. H200: 989e12 FLOP/s * 0.5, 4.8e12 B/s * 0.8.
    let (flops, bandwidth, overhead) = (989e12 * 0.5, 4.8e12 * 0.8, 32.0 * 1e-5);
    // Decode at context 1000: weights (layers + LM head) and KV (1000 read, 1 written)
    // are memory-bound.
    let weights = 2.0 * (6_979_588_096.0 + 525_336_576.0);
    let decode = weights / bandwidth + 4096.0 * 32.0 * 1001.0 / bandwidth + overhead;
    // A 4-token prompt runs eagerly and sits at the floor of 32 * 0.2 ms.
    let small = 32.0 * 2e-4;
    // A 4096-token prompt is compute-bound: layers per token, the LM head once,
    // attention 4 * 32 heads * 128 * 32 layers * 4096 * 4097 / 2 pairs.
    let linear = 2.0 * (6_979_588_096.0 * 4096.0 + 525_336_576.0);
    let attention = 4.0 * 32.0 * 128.0 * 32.0 * (4096.0 * 4097.0 / 2.0);
    let big = linear / flops + attention / flops + overhead;
    for (got, want) in got.iter().zip([decode, small, big]) {
        assert!(
            (got - want * 1e3).abs() < 1e-4,
            "got {got} ms, want {} ms",
            want * 1e3
        );
    }
    // No measurements: no error column and no accuracy summary.
    assert!(!stdout(&o).contains("error_pct"));
    assert!(!stderr(&o).contains("MAPE"), "{}", stderr(&o));
}

#[test]
fn calibrate_meets_the_targets_on_the_h200_measurements() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), "");
    fs::copy(shipped(MEASURED), dir.path().join("m.csv")).unwrap();
    let o = calibrate(dir.path(), "m.csv");
    let report = stdout(&o);
    let figure = |row: &str, what: &str| -> f64 {
        let line = report.lines().find(|l| l.starts_with(row)).unwrap();
        let rest = &line[line.find(what).unwrap() + what.len()..];
        rest.trim_start()[..rest.trim_start().find('%').unwrap()]
            .parse()
            .unwrap()
    };
    assert!(figure("datasheet", "MAPE") > 30.0, "{report}");
    assert!(figure("leave-one-out", "MAPE") <= 8.0, "{report}");
    assert!(figure("leave-one-out", "max") <= 25.0, "{report}");
    assert!(figure("calibrated", "max") <= 25.0, "{report}");

    // The written file calibrates predict-steps to the same accuracy, whether
    // named by the config or by --calibration.
    let by_flag = predict(
        dir.path(),
        &c,
        &fs::read_to_string(shipped(MEASURED)).unwrap(),
        &["--calibration", "cal.toml", "-o", "out.csv"],
    );
    assert_eq!(by_flag.status.code(), Some(0), "{}", stderr(&by_flag));
    let calibrated = report
        .lines()
        .find(|l| l.starts_with("calibrated"))
        .unwrap()
        .trim_start_matches("calibrated")
        .trim()
        .to_string();
    assert!(
        stdout(&by_flag).contains(&calibrated),
        "{}",
        stdout(&by_flag)
    );
    let out = fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert!(out.starts_with(
        "kind,num_seqs,new_tokens_per_seq,context_tokens,prefill_chunk_tokens,median_ms,min_ms,max_ms,predicted_ms,error_pct\n"
    ));
    assert_eq!(out.lines().count(), 30);
    let c2 = config(dir.path(), "calibration = \"cal.toml\"");
    let by_config = predict(
        dir.path(),
        &c2,
        &fs::read_to_string(shipped(MEASURED)).unwrap(),
        &["-o", "out2.csv"],
    );
    assert_eq!(by_config.status.code(), Some(0), "{}", stderr(&by_config));
    assert_eq!(
        fs::read_to_string(dir.path().join("out2.csv")).unwrap(),
        out
    );
}

#[test]
fn the_shipped_calibration_is_the_fit_of_the_shipped_measurements() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        dir.path(),
        &[
            "calibrate",
            "-c",
            shipped("configs/h200-llama-3.1-8b.toml").to_str().unwrap(),
            "--measured",
            shipped(MEASURED).to_str().unwrap(),
            "-o",
            "cal.toml",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("warning"),
        "a plausible fit: {}",
        stderr(&o)
    );
    let values = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        values(&fs::read_to_string(dir.path().join("cal.toml")).unwrap()),
        values(&fs::read_to_string(shipped("configs/calibration/h200-llama-3.1-8b.toml")).unwrap())
    );
}

#[test]
fn runs_use_the_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let calibrated = shipped("configs/h200-llama-3.1-8b-calibrated.toml");
    let datasheet = shipped("configs/h200-llama-3.1-8b.toml");
    let mut seconds = Vec::new();
    for (config, out) in [(&datasheet, "d.json"), (&calibrated, "c.json")] {
        let o = run(
            dir.path(),
            &["-c", config.to_str().unwrap(), "-q", "-o", out],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let result = json(&dir.path().join(out));
        seconds.push(result["simulation"]["simulated_seconds"].as_f64().unwrap());
        if out == "c.json" {
            let cal = &result["config"]["hardware"]["calibration"];
            assert!(cal["compute_efficiency"].as_f64().unwrap() < 1.0, "{cal}");
        }
    }
    // Real steps are slower than the datasheet's: the same traffic takes longer.
    assert!(seconds[1] > seconds[0], "{seconds:?}");
    let o = run(dir.path(), &["validate", calibrated.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn bad_calibrations_name_their_field() {
    // A calibration file that is missing or out of range: tests/golden/errors.txt.
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), "calibration = { compute_efficiency = -1 }");
    let err = stderr(&run(dir.path(), &["-c", &c, "-q"]));
    assert!(
        err.starts_with("error: c.toml: hardware.calibration.compute_efficiency: expected a number above 0, got -1"),
        "{err}"
    );
    // calibrate needs measurements.
    fs::write(
        dir.path().join("s.csv"),
        format!("{HEADER}\ndecode,8,1,512,0\n"),
    )
    .unwrap();
    let c = config(dir.path(), "");
    let o = run(
        dir.path(),
        &["calibrate", "-c", &c, "--measured", "s.csv", "-o", "x.toml"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("s.csv: no median_ms column"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sweeps_vary_the_calibration_like_any_other_key() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("datasheet.toml"),
        "compute_efficiency = 1.0\n",
    )
    .unwrap();
    let manifest = format!(
        "[sweep]\nname = 'cal'\nbase = '{}'\noutput = 'out'\n[grid]\n'hardware.calibration' = ['calibration/h200-llama-3.1-8b.toml', '{}']\n'workload.num_requests' = [50]\n",
        shipped("configs/h200-llama-3.1-8b.toml").display(),
        dir.path().join("datasheet.toml").display()
    );
    fs::write(dir.path().join("s.toml"), manifest).unwrap();
    let o = run(dir.path(), &["sweep", "s.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = fs::read_to_string(dir.path().join("out/runs.csv")).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2);
    let e2e = |row: &[&str]| -> f64 { row[col("e2e_ms_mean")].parse().unwrap() };
    assert_eq!(rows[0][col("status")], "ok");
    // The calibrated H200 is slower than its datasheet.
    assert!(e2e(&rows[0]) > e2e(&rows[1]), "{table}");
}

/// A step table's `tensor_parallel_size` column prices each row for that
/// many GPUs: the same price as a config deployed at that parallelism, and
/// `calibrate` fits a table of mixed parallelisms.
#[test]
fn the_tensor_parallel_column_prices_each_row_for_its_gpus() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), "");
    let rows = "decode,64,1,2048,0\nprefill,1,2048,0,0\nmixed,16,1,1024,512\n";
    let mut mixed = format!("{HEADER},tensor_parallel_size\n");
    for tp in [1, 2, 4] {
        for row in rows.lines() {
            mixed.push_str(&format!("{row},{tp}\n"));
        }
    }
    let o = predict(dir.path(), &c, &mixed, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let by_row = predicted_ms(&stdout(&o));
    let base = fs::read_to_string(dir.path().join(&c)).unwrap();
    for (i, tp) in [1, 2, 4].iter().enumerate() {
        let deployed = format!("c{tp}.toml");
        fs::write(
            dir.path().join(&deployed),
            format!("[deployment]\ntensor_parallel_size = {tp}\n{base}"),
        )
        .unwrap();
        let o = predict(dir.path(), &deployed, &format!("{HEADER}\n{rows}"), &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(
            predicted_ms(&stdout(&o)),
            by_row[3 * i..3 * i + 3],
            "tp {tp}"
        );
    }
    assert!(by_row[3] < by_row[0], "two GPUs decode faster than one");
    // A bad cell names the column.
    let o = predict(
        dir.path(),
        &c,
        &format!("{HEADER},tensor_parallel_size\ndecode,1,1,10,0,0\n"),
        &[],
    );
    assert_failure(&o, 1, "tensor_parallel_size: expected at least 1, got 0");
}

/// Steps measured ten times faster than the datasheet allows fit an
/// efficiency above 1, which calibrate writes but warns about.
#[test]
fn an_implausible_fit_is_written_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let measured = fs::read_to_string(shipped(MEASURED)).unwrap();
    let mut lines = measured.lines();
    let header = lines.next().unwrap();
    let median = header.split(',').position(|c| c == "median_ms").unwrap();
    let mut faster = vec![header.to_string()];
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        let ms: f64 = cells[median].parse().unwrap();
        cells[median] = (ms / 10.0).to_string();
        faster.push(cells.join(","));
    }
    fs::write(dir.path().join("fast.csv"), faster.join("\n") + "\n").unwrap();
    let o = calibrate(dir.path(), "fast.csv");
    assert!(dir.path().join("cal.toml").exists());
    let e = stderr(&o);
    assert!(
        e.contains("warning: fast.csv: fitted compute_efficiency") && e.contains("is above 1"),
        "{e}"
    );
}

/// Twenty rows of one step shape cannot tell compute from bandwidth from
/// overhead: calibrate writes a fit that matches them and says it is one of
/// many.
#[test]
fn steps_of_one_shape_are_fitted_with_a_warning_that_they_cannot_determine_it() {
    let dir = tempfile::tempdir().unwrap();
    let measured = fs::read_to_string(shipped(MEASURED)).unwrap();
    let mut lines = measured.lines();
    let header = lines.next().unwrap();
    let row = lines.nth(10).unwrap();
    let same: Vec<&str> = std::iter::once(header)
        .chain(std::iter::repeat_n(row, 20))
        .collect();
    fs::write(dir.path().join("same.csv"), same.join("\n") + "\n").unwrap();
    let o = calibrate(dir.path(), "same.csv");
    assert!(dir.path().join("cal.toml").exists());
    let e = stderr(&o);
    assert!(
        e.contains("warning: same.csv: every row is the same step shape (20 rows): they cannot determine the fit's 4 parameters"),
        "{e}"
    );
}
