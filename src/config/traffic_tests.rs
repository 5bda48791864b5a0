//! The traffic fields of `[workload]`: arrival CVs, rate schedules, shared
//! prefixes, traces, and which sources may be combined.

use super::*;

const BASE: &str = "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 2048\nmax_num_seqs = 8\n[workload]\n";
const LENGTHS: &str = "input_len_dist = { type = 'fixed', value = 100 }\noutput_len_dist = { type = 'fixed', value = 10 }\n";

fn parse(workload: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(&format!("{BASE}{workload}"), "c.toml")
}

fn error_of(workload: &str) -> String {
    parse(workload).unwrap_err().to_string()
}

#[test]
fn configs_without_the_new_fields_serialise_as_before() {
    let c = Config::builtin_default().unwrap();
    let json = serde_json::to_value(&c).unwrap();
    let keys: Vec<&str> = json["workload"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Every field but the optional traffic ones, absent here, in field order.
    let traffic = [
        "arrival_cv",
        "rate_schedule",
        "shared_prefix",
        "trace",
        "sessions",
    ];
    let before: Vec<&str> = super::workload::FIELDS
        .iter()
        .map(|f| f.name)
        .filter(|f| !traffic.contains(f))
        .collect();
    assert_eq!(keys, before);
}

#[test]
fn gamma_and_weibull_need_a_cv_in_range() {
    let c = parse(&format!(
        "arrival_pattern = 'weibull'\narrival_cv = 2.5\narrival_rate = 3.0\nnum_requests = 5\n{LENGTHS}"
    ))
    .unwrap();
    assert_eq!(c.workload.arrival_cv, Some(2.5));
    let json = serde_json::to_string(&c.workload).unwrap();
    assert!(json.contains("\"arrival_pattern\":\"weibull\""), "{json}");
    assert!(
        json.ends_with("\"batch_size\":32,\"arrival_cv\":2.5}"),
        "{json}"
    );
    for (workload, expected) in [
        ("arrival_pattern = 'gamma'", "workload.arrival_cv: missing required field"),
        ("arrival_pattern = 'gamma'\narrival_cv = 25", "workload.arrival_cv: expected a number from 0.01 to 20 (1 is Poisson), got 25"),
        ("arrival_pattern = 'poisson'\narrival_cv = 2", "workload.arrival_cv: only the gamma and weibull arrival patterns have a coefficient of variation"),
    ] {
        let e = error_of(&format!("{workload}\narrival_rate = 1.0\nnum_requests = 5\n{LENGTHS}"));
        assert!(e.contains(expected), "expected '{expected}' in '{e}'");
    }
}

#[test]
fn a_schedule_makes_arrival_rate_a_multiplier_and_may_end_the_run() {
    let c = parse(&format!(
        "arrival_pattern = 'poisson'\n{LENGTHS}\n[[workload.rate_schedule]]\nuntil_secs = 60\nrate = 2\n[[workload.rate_schedule]]\nuntil_secs = 120\nrate = 0\n"
    ))
    .unwrap();
    assert_eq!(c.workload.arrival_rate, 1.0);
    assert_eq!(
        c.workload.rate_schedule,
        Some(RateSchedule::Piecewise {
            pieces: vec![
                RatePiece {
                    until_secs: 60.0,
                    rate: 2.0
                },
                RatePiece {
                    until_secs: 120.0,
                    rate: 0.0
                },
            ]
        })
    );
    // A sine never ends: the run needs a limit.
    let sine =
        "rate_schedule = { type = 'sine', mean = 2.0, amplitude = 1.0, period_secs = 86400 }";
    let e = error_of(&format!("arrival_pattern = 'poisson'\n{sine}\n{LENGTHS}"));
    assert!(e.contains("workload.num_requests: missing"), "{e}");
    let c = parse(&format!(
        "arrival_pattern = 'poisson'\narrival_rate = 3\nduration_secs = 10\n{sine}\n{LENGTHS}"
    ))
    .unwrap();
    assert_eq!(
        c.workload.rate_schedule,
        Some(RateSchedule::Sine {
            mean: 2.0,
            amplitude: 1.0,
            period_secs: 86400.0,
            phase_secs: 0.0
        })
    );
}

#[test]
fn bad_schedules_name_their_field() {
    for (schedule, expected) in [
        ("rate_schedule = [{ until_secs = 10, rate = 1 }, { until_secs = 10, rate = 2 }]", "workload.rate_schedule[1].until_secs: expected a time after the previous piece's until_secs (10), got 10"),
        ("rate_schedule = [{ until_secs = 10, rate = -1 }]", "workload.rate_schedule[0].rate: expected a number of at least 0, got -1"),
        ("rate_schedule = [{ until_secs = 10, rat = 1 }]", "workload.rate_schedule[0].rat: unknown field 'rat'; did you mean 'rate'?"),
        ("rate_schedule = [{ until_secs = 10, rate = 0 }]", "workload.rate_schedule: every rate is 0: no request would arrive"),
        ("rate_schedule = []", "workload.rate_schedule: expected at least one { until_secs, rate } piece"),
        ("rate_schedule = [3]", "workload.rate_schedule[0]: expected a { until_secs, rate } table, got the integer 3"),
        ("rate_schedule = 2.0", "workload.rate_schedule: expected an array of { until_secs, rate } tables or a { type = \"sine\", mean, amplitude, period_secs } table, got the number 2"),
        ("rate_schedule = { type = 'square', mean = 1 }", "workload.rate_schedule.type: unknown value 'square' (expected one of: sine)"),
        ("rate_schedule = { type = 'sine', mean = 1, amplitude = 2, period_secs = 5 }", "workload.rate_schedule.amplitude: expected at most mean (1), so the rate never goes below 0, got 2"),
        ("rate_schedule = { type = 'sine', mean = 1, amplitude = 0.5 }", "workload.rate_schedule.period_secs: missing required field"),
    ] {
        let e = error_of(&format!("arrival_pattern = 'poisson'\nnum_requests = 5\n{schedule}\n{LENGTHS}"));
        assert!(e.contains(expected), "expected '{expected}' in '{e}'");
    }
    let e = error_of(&format!(
        "arrival_pattern = 'closed_loop'\nnum_concurrent_users = 2\nnum_requests = 5\nrate_schedule = [{{ until_secs = 10, rate = 1 }}]\n{LENGTHS}"
    ));
    assert!(
        e.contains("workload.rate_schedule: a rate schedule shapes open-loop arrivals"),
        "{e}"
    );
}

const SHARED: &str = "[workload.shared_prefix]\nnum_groups = 10\nprompts_per_group = 10\nsystem_prompt_len = 100\nquestion_len = 447\n";

#[test]
fn shared_prefix_reads_the_harness_shape() {
    let c = parse(&format!(
        "arrival_pattern = 'poisson'\narrival_rate = 2\nnum_requests = 50\noutput_len_dist = {{ type = 'fixed', value = 248 }}\n{SHARED}"
    ))
    .unwrap();
    let shared = c.workload.shared_prefix.unwrap();
    assert_eq!(shared.order, PromptOrder::Cycle);
    assert_eq!((shared.num_prompts(), shared.prompt_len()), (100, 547));
    for (from, to, expected) in [
        ("num_groups = 10", "num_groups = 0", "workload.shared_prefix.num_groups: expected an integer of at least 1, got 0"),
        ("num_groups = 10", "num_groups = 10\norder = 'shuffle'", "workload.shared_prefix.order: unknown value 'shuffle' (expected one of: cycle, random)"),
        ("num_groups = 10", "num_group = 10", "workload.shared_prefix.num_group: unknown field 'num_group'; did you mean 'num_groups'?"),
        ("num_groups = 10", "num_groups = 1000000", "workload.shared_prefix.prompts_per_group: num_groups x prompts_per_group is 10000000, more than the 1000000 distinct prompts allowed"),
        ("question_len = 447", "question_len = 2000000", "workload.shared_prefix.question_len: the 100 distinct prompts have 200010000 tokens together, more than the 100000000 allowed"),
        ("system_prompt_len = 100\nquestion_len = 447", "system_prompt_len = 0\nquestion_len = 0", "workload.shared_prefix.question_len: expected system_prompt_len + question_len of at least 1 token, got 0"),
    ] {
        let e = error_of(&format!(
            "arrival_pattern = 'poisson'\narrival_rate = 2\nnum_requests = 50\noutput_len_dist = {{ type = 'fixed', value = 248 }}\n{}",
            SHARED.replacen(from, to, 1)
        ));
        assert!(e.contains(expected), "expected '{expected}' in '{e}'");
    }
    let e = error_of(&format!(
        "arrival_pattern = 'poisson'\narrival_rate = 2\nnum_requests = 50\n{SHARED}"
    ));
    assert!(e.contains("workload.output_len_dist: missing: a shared_prefix workload samples its output lengths from output_len_dist"), "{e}");
}

#[test]
fn a_trace_brings_times_lengths_and_its_own_window() {
    let c = parse("trace = { path = 'azure.csv', format = 'azure', time_scale = 4, start_secs = 60, duration_secs = 600, max_requests = 1000, sort = true }").unwrap();
    let w = &c.workload;
    assert_eq!(w.arrival_pattern, ArrivalPattern::Trace);
    let t = w.trace.as_ref().unwrap();
    assert_eq!(
        (t.format, t.time_scale, t.end_secs(), t.max_requests, t.sort),
        (Some(TraceFormat::Azure), 4.0, Some(660.0), Some(1000), true)
    );
    let c = parse("arrival_pattern = 'trace'\n[workload.trace]\npath = 'm.jsonl'\n").unwrap();
    assert_eq!(
        serde_json::to_string(&c.workload.trace).unwrap(),
        r#"{"path":"m.jsonl","time_scale":1.0,"start_secs":0.0,"sort":false}"#
    );
    for (workload, expected) in [
        ("trace = { path = 't.csv', time_scal = 2 }", "workload.trace.time_scal: unknown field 'time_scal'; did you mean 'time_scale'?"),
        ("trace = { path = 't.csv', time_scale = 0 }", "workload.trace.time_scale: expected a number above 0, got 0"),
        ("trace = { path = 't.csv', format = 'splitwise' }", "workload.trace.format: unknown value 'splitwise' (expected one of: azure, mooncake, burstgpt, csv)"),
        ("trace = { path = 't.csv', start_secs = -1 }", "workload.trace.start_secs: expected a number of at least 0, got -1"),
        ("trace = { path = 't.csv', max_requests = 0 }", "workload.trace.max_requests: expected an integer of at least 1, got 0"),
        ("trace = { format = 'csv' }", "workload.trace.path: missing required field"),
        ("trace = 't.csv'", "workload.trace: expected a table, got the string \"t.csv\""),
        ("trace = { path = 't.csv' }\narrival_pattern = 'poisson'", "workload.arrival_pattern: a trace gives the arrival times: leave arrival_pattern out (or set it to \"trace\")"),
        ("trace = { path = 't.csv' }\narrival_rate = 3", "workload.arrival_rate: a trace gives the arrival times: leave arrival_rate out and scale the trace with workload.trace.time_scale"),
        ("trace = { path = 't.csv' }\noutput_len_dist = { type = 'fixed', value = 3 }", "workload.output_len_dist: a trace gives every request's output length: leave output_len_dist out"),
        ("trace = { path = 't.csv' }\nrate_schedule = [{ until_secs = 10, rate = 1 }]", "workload.rate_schedule: a rate schedule shapes open-loop arrivals"),
        ("arrival_pattern = 'trace'\nnum_requests = 3", "workload.arrival_pattern: \"trace\" replays workload.trace, which is not set"),
    ] {
        let e = error_of(workload);
        assert!(e.contains(expected), "expected '{expected}' in '{e}'");
    }
}

#[test]
fn a_workload_has_one_source_of_prompts() {
    let shared = "shared_prefix = { num_groups = 1, prompts_per_group = 1, system_prompt_len = 1, question_len = 1 }";
    for (workload, expected) in [
        (format!("dataset_path = 'd.jsonl'\n{LENGTHS}"), "workload.dataset_path: cannot be combined with workload.input_len_dist: a workload takes its prompts from one of input_len_dist, dataset_path, shared_prefix, trace, sessions"),
        (format!("{shared}\n{LENGTHS}"), "workload.shared_prefix: cannot be combined with workload.input_len_dist"),
        ("dataset_path = 'd.jsonl'\ntrace = { path = 't.csv' }".to_string(), "workload.trace: cannot be combined with workload.dataset_path"),
        (format!("{shared}\ntrace = {{ path = 't.csv' }}"), "workload.trace: cannot be combined with workload.shared_prefix"),
    ] {
        let e = error_of(&format!("arrival_pattern = 'poisson'\narrival_rate = 1\nnum_requests = 5\n{workload}"));
        assert!(e.contains(expected), "expected '{expected}' in '{e}'");
    }
    let e = error_of("arrival_pattern = 'poisson'\narrival_rate = 1\nnum_requests = 5\n");
    assert!(
        e.contains("workload.input_len_dist: missing: synthetic workloads (no dataset_path, shared_prefix, trace or sessions) need both length distributions"),
        "{e}"
    );
}
const SESSIONS: &str = "output_len_dist = { type = 'fixed', value = 50 }\n[workload.sessions]\nturns_dist = { type = 'uniform', min = 1, max = 8 }\nthink_time_dist = { type = 'exponential', mean = 4.5 }\nuser_len_dist = { type = 'fixed', value = 60 }\nnum_sessions = 20\n";

#[test]
fn sessions_read_their_distributions_and_end_by_num_sessions() {
    let c = parse(&format!(
        "arrival_pattern = 'poisson'\narrival_rate = 0.5\n{SESSIONS}"
    ))
    .unwrap();
    let s = c.workload.sessions.unwrap();
    assert_eq!(
        s,
        SessionsConfig {
            turns_dist: LengthDist::Uniform { min: 1, max: 8 },
            think_time_dist: DurationDist::Exponential { mean: 4.5 },
            user_len_dist: LengthDist::Fixed { value: 60 },
            system_prompt_len: 0,
            num_sessions: Some(20),
        }
    );
    assert_eq!(
        serde_json::to_string(&c.workload.sessions).unwrap(),
        r#"{"turns_dist":{"type":"uniform","min":1,"max":8},"think_time_dist":{"type":"exponential","mean":4.5},"user_len_dist":{"type":"fixed","value":60},"system_prompt_len":0,"num_sessions":20}"#
    );
    for (from, to, expected) in [
        ("num_sessions = 20", "", "workload.num_requests: missing: set num_requests or duration_secs"),
        ("turns_dist = { type = 'uniform', min = 1, max = 8 }", "", "workload.sessions.turns_dist: missing required field (expected a distribution table"),
        ("min = 1, max = 8", "min = 0, max = 8", "workload.sessions.turns_dist.min: expected an integer of at least 1, got 0"),
        ("type = 'exponential', mean = 4.5", "type = 'exponential', mean = -1", "workload.sessions.think_time_dist.mean: expected a number of at least 0, got -1"),
        ("type = 'exponential', mean = 4.5", "type = 'exponential', value = 4.5", "workload.sessions.think_time_dist.value: unknown field 'value' for this distribution (expected mean)"),
        ("type = 'exponential', mean = 4.5", "type = 'pareto', mean = 4.5", "workload.sessions.think_time_dist.type: unknown value 'pareto' (expected one of: fixed, uniform, exponential, normal, lognormal)"),
        ("type = 'exponential', mean = 4.5", "type = 'uniform', min = 3, max = 2", "workload.sessions.think_time_dist.min: expected min <= max (2), got 3"),
        ("num_sessions = 20", "num_session = 20", "workload.sessions.num_session: unknown field 'num_session'; did you mean 'num_sessions'?"),
        ("output_len_dist = { type = 'fixed', value = 50 }", "", "workload.output_len_dist: missing: a sessions workload samples its output lengths from output_len_dist"),
        ("output_len_dist = { type = 'fixed', value = 50 }", "input_len_dist = { type = 'fixed', value = 5 }\noutput_len_dist = { type = 'fixed', value = 50 }", "workload.sessions: cannot be combined with workload.input_len_dist"),
    ] {
        let e = error_of(&format!("arrival_pattern = 'poisson'\narrival_rate = 0.5\n{}", SESSIONS.replacen(from, to, 1)));
        assert!(e.contains(expected), "expected '{expected}' in '{e}'");
    }
    // Closed-loop users start the sessions; a limit on requests ends them too.
    let c = parse(&format!(
        "arrival_pattern = 'closed_loop'\nnum_concurrent_users = 4\nnum_requests = 100\n{}",
        SESSIONS.replacen("num_sessions = 20", "system_prompt_len = 200", 1)
    ))
    .unwrap();
    assert_eq!(c.workload.sessions.unwrap().system_prompt_len, 200);
}
