use super::*;
use std::io::Write;

/// A trace config for `path` with `format` (None: detect) and `sort`.
fn config(path: &Path, format: Option<TraceFormat>, sort: bool) -> TraceConfig {
    TraceConfig {
        path: path.display().to_string(),
        format,
        time_scale: 1.0,
        start_secs: 0.0,
        duration_secs: None,
        max_requests: None,
        sort,
    }
}

/// Writes `text` to a file and reads it back as trace records.
fn read_as(
    text: &str,
    format: Option<TraceFormat>,
    sort: bool,
) -> Result<Vec<TraceRecord>, TraceError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let path = file.path();
    open(path, &config(path, format, sort))?.collect()
}

fn read(text: &str) -> Result<Vec<TraceRecord>, TraceError> {
    read_as(text, None, false)
}

/// (arrival, input, output) of each record.
fn timeline(records: &[TraceRecord]) -> Vec<(f64, u32, u32)> {
    records
        .iter()
        .map(|r| (r.arrival_secs, r.input_tokens, r.output_tokens))
        .collect()
}

/// The error of reading `text`, without the (temporary) file name.
fn error(text: &str) -> String {
    let e = read(text).unwrap_err();
    format!("line {}: {}: {}", e.line, e.field, e.message)
}

#[test]
fn azure_date_times_become_seconds_after_the_first_record() {
    let r = read(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,4808,10\n2023-11-16 18:15:50.1805900,374,44\n2023-11-16 18:16:46.6805900,1000,0\n",
    )
    .unwrap();
    assert_eq!(
        timeline(&r),
        [(0.0, 4808, 10), (3.5, 374, 44), (60.0, 1000, 1)],
        "a 0 output becomes 1"
    );
    assert_eq!(r[1].line, 3);
    assert!(r.iter().all(|r| r.content == TraceContent::Unique));
}

#[test]
fn burstgpt_keeps_its_token_columns_and_ignores_the_rest() {
    let r = read(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,472,18,490,Conversation log\n7.25,GPT-4,1000,250,1250,API log\n",
    )
    .unwrap();
    assert_eq!(timeline(&r), [(0.0, 472, 18), (2.25, 1000, 250)]);
}

#[test]
fn mooncake_lines_carry_their_block_ids() {
    let r = read(
        "{\"timestamp\": 1000, \"input_length\": 1100, \"output_length\": 5, \"hash_ids\": [0, 1, 2]}\n\n{\"timestamp\": 1250, \"input_length\": 600, \"output_length\": 7, \"hash_ids\": [0, 3], \"extra\": true}\n",
    )
    .unwrap();
    assert_eq!(timeline(&r), [(0.0, 1100, 5), (0.25, 600, 7)]);
    assert_eq!(r[1].line, 3, "blank lines count");
    assert_eq!(
        r[0].content,
        TraceContent::BlockIds {
            block_tokens: 512,
            ids: vec![0, 1, 2]
        }
    );
}

#[test]
fn plain_csv_keys_content_by_prefix_id_then_session_id() {
    let r = read(
        "arrival_secs,input_tokens,output_tokens,session_id,prefix_id\n0.5,10,1,s1,p\n1.5,20,2,s1,\n2.5,30,3,,\n3.5,40,4,s2,p\n",
    )
    .unwrap();
    assert_eq!(timeline(&r)[1], (1.0, 20, 2));
    let key = |i: usize| match r[i].content {
        TraceContent::Stream(k) => Some(k),
        _ => None,
    };
    assert_eq!(key(0), key(3), "same prefix_id");
    assert!(
        key(1).is_some() && key(1) != key(0),
        "session_id when no prefix_id"
    );
    assert_eq!(key(2), None);
}

#[test]
fn the_format_is_told_from_the_first_line_or_given() {
    let plain = "arrival_secs,input_tokens,output_tokens\n0,1,1\n";
    assert_eq!(
        read_as(plain, Some(TraceFormat::Csv), false).unwrap().len(),
        1
    );
    let e = read_as(plain, Some(TraceFormat::Azure), false).unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (1, "TIMESTAMP"));
    assert!(
        e.message
            .contains("TIMESTAMP,ContextTokens,GeneratedTokens"),
        "{e}"
    );
    let e = read("time,in,out\n0,1,1\n").unwrap_err();
    assert!(
        e.message
            .contains("cannot tell the trace format from its first line 'time,in,out'"),
        "{e}"
    );
    assert!(e.message.contains("set workload.trace.format"), "{e}");
    assert_eq!(read("\n\n").unwrap_err().message, "the trace is empty");
}

#[test]
fn bad_lines_name_the_line_and_the_field() {
    let plain = "arrival_secs,input_tokens,output_tokens\n";
    for (body, expected) in [
        (
            "0,10,1\nx,10,1\n",
            "line 3: arrival_secs: expected a number of seconds, got 'x'",
        ),
        (
            "0,-4,1\n",
            "line 2: input_tokens: expected a whole number of tokens, got '-4'",
        ),
        (
            "0,4,1.5\n",
            "line 2: output_tokens: expected a whole number of tokens, got '1.5'",
        ),
        (
            "0,4,9999999999\n",
            "line 2: output_tokens: 9999999999 tokens is more than the simulator can hold",
        ),
        ("0,4\n", "line 2: : 2 fields, but the header has 3"),
        (
            "0,4,1\ninf,4,1\n",
            "line 3: arrival_secs: expected a number of seconds, got 'inf'",
        ),
    ] {
        assert_eq!(error(&format!("{plain}{body}")), expected);
    }
    assert_eq!(
        error("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 25:00:00,1,1\n"),
        "line 2: TIMESTAMP: expected a date-time such as 2023-11-16 18:15:46.6805900, got '2023-11-16 25:00:00'"
    );
    assert_eq!(
        error("{\"timestamp\": 0, \"output_length\": 3}\n"),
        "line 1: input_length: missing"
    );
    assert_eq!(
        error("{\"timestamp\": \"soon\", \"input_length\": 1, \"output_length\": 3}\n"),
        "line 1: timestamp: expected a number, got \"soon\""
    );
    assert_eq!(
        error("{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 3, \"hash_ids\": [1, -2]}\n"),
        "line 1: hash_ids: entry 1: expected a non-negative integer id, got -2"
    );
    assert!(error("{\"timestamp\": 0,\n").starts_with("line 1: : expected a JSON object"));
}

#[test]
fn unknown_plain_columns_are_refused_with_a_hint() {
    assert_eq!(
        error("arrival_secs,input_tokens,output_tokens,prefixid\n0,1,1,a\n"),
        "line 1: prefixid: unknown column (expected arrival_secs, input_tokens, output_tokens, prefix_id, session_id); did you mean 'prefix_id'?"
    );
}

#[test]
fn out_of_order_traces_are_an_error_unless_sorted() {
    let text = "arrival_secs,input_tokens,output_tokens\n1.0,10,1\n3.0,30,1\n2.0,20,1\n2.0,21,1\n";
    assert_eq!(
        error(text),
        "line 4: arrival_secs: earlier than line 3: the trace is out of time order (set workload.trace.sort = true to sort it, which holds the whole trace in memory)"
    );
    let sorted = read_as(text, None, true).unwrap();
    // Stable: the two records at 2.0 keep their file order; time starts at the earliest.
    assert_eq!(
        timeline(&sorted),
        [(0.0, 10, 1), (1.0, 20, 1), (1.0, 21, 1), (2.0, 30, 1)]
    );
    assert_eq!(sorted[1].line, 4);
}

#[test]
fn a_missing_file_says_where_relative_paths_start() {
    let path = Path::new("/nonexistent/trace.csv");
    let e = open(path, &config(path, None, false)).err().unwrap();
    assert_eq!(e.file, "/nonexistent/trace.csv");
    assert!(e.message.starts_with("cannot open the trace:"), "{e}");
    assert!(
        e.message
            .contains("relative to the config file's directory"),
        "{e}"
    );
}

#[test]
fn a_line_longer_than_the_limit_fails_at_once_in_detection_and_in_reading() {
    let huge = "a".repeat(crate::io::lines::MAX_LINE_BYTES + 1);
    // The first line, where the format is told.
    let e = error(&format!("{{\"timestamp\": 0, \"x\": \"{huge}\"}}\n"));
    assert!(
        e.starts_with("line 1: : the line is longer than 8 MiB"),
        "{e}"
    );
    // A later line of a Mooncake trace.
    let e = error(&format!(
        "{{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 5}}\n{{\"timestamp\": 1, \"x\": \"{huge}\"}}\n"
    ));
    assert!(
        e.starts_with("line 2: : the line is longer than 8 MiB"),
        "{e}"
    );
}

#[test]
fn a_csv_record_longer_than_the_limit_fails_at_its_line() {
    let max = crate::io::lines::MAX_LINE_BYTES;
    let header = "arrival_secs,input_tokens,output_tokens,prefix_id\n";
    // A record of exactly the limit reads; one byte more is an error at
    // the line where it starts, in file order and sorted alike.
    let row = |len: usize| {
        let start = "1,10,5,";
        format!("{start}{}\n", "p".repeat(len - start.len()))
    };
    let fits = read(&format!("{header}0,10,5,\n{}", row(max))).unwrap();
    assert_eq!(fits.len(), 2);
    for sort in [false, true] {
        let e = read_as(
            &format!("{header}0,10,5,\n{}2,1,1,\n", row(max + 1)),
            None,
            sort,
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str(), e.message.as_str()),
            (
                3,
                "",
                "the line is longer than 8 MiB (8388608 bytes), the limit on a line"
            ),
            "sort = {sort}"
        );
    }
    // A quoted field that never ends, and a header without a newline.
    let e = read(&format!("{header}0,10,5,\"{}", "q".repeat(max + 10))).unwrap_err();
    assert_eq!(
        (e.line, e.message.contains("longer than 8 MiB")),
        (2, true),
        "{e}"
    );
    let e = read_as(
        &format!(
            "arrival_secs,input_tokens,output_tokens,{}",
            "h".repeat(max)
        ),
        Some(TraceFormat::Csv),
        false,
    )
    .unwrap_err();
    assert_eq!(e.line, 1, "{e}");
    assert!(e.message.ends_with("the limit on a line"), "{e}");
}

#[test]
fn values_in_messages_are_short_and_on_one_line() {
    let e = error(&format!(
        "arrival_secs,input_tokens,output_tokens\n\"1\n{}\",10,5\n",
        "9".repeat(1000)
    ));
    assert!(e.len() < 400 && !e.contains('\n'), "{e}");
    assert!(e.contains("'1\\n999"), "{e}");
}
