//! The `[search]` section of a manifest: which knob a capacity search moves,
//! over which bracket, to what precision, under which SLOs.

use crate::config::fields::{Field, FieldDefault, FieldKind};
use crate::config::{describe, ConfigError, Section};
use crate::metrics::catalog::{catalog, metric, not_a_column};
use crate::table::Cell;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

/// The `[search]` fields of a manifest.
pub const SEARCH_FIELDS: &[Field] = &[
    Field::new(
        "over",
        FieldKind::Text,
        "the load knob: any numeric config key (integer keys such as workload.num_concurrent_users are searched over integers)",
    ),
    Field::new("bounds", FieldKind::Bounds, "the bracket searched, [LOW, HIGH]"),
    Field::new(
        "tolerance",
        FieldKind::Positive,
        "relative width of the final bracket",
    )
    .default(FieldDefault::Number(DEFAULT_TOLERANCE)),
    Field::new(
        "slo",
        FieldKind::NumberMap,
        "upper bounds on metric columns of the runs table (ttft_ms_p99 = 2000.0)",
    ),
    Field::new(
        "early_stop",
        FieldKind::Bool,
        "end a probe early once it is certain to fail an SLO",
    )
    .default(FieldDefault::Bool(true)),
];

/// The default relative width of the final bracket.
pub const DEFAULT_TOLERANCE: f64 = 0.02;

/// A parsed, checked `[search]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpec {
    /// `search.over`: the dotted config key the search moves (the load knob).
    pub over: String,
    /// `search.bounds`: the bracket searched; integers for integer keys.
    pub bounds: Bounds,
    /// `search.tolerance`: the bisection stops once `hi / lo - 1` is at most
    /// this (integer searches also stop at adjacent integers).
    pub tolerance: f64,
    /// `search.slo`: upper bounds on metric columns, in manifest order.
    pub slos: Vec<Slo>,
    /// `search.early_stop`: whether the overload detector may end a probe
    /// early (default true).
    pub early_stop: bool,
}

/// The bracket of a search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bounds {
    /// An integer knob (`workload.num_concurrent_users`), searched over integers.
    Int {
        /// The lowest value probed.
        lo: i64,
        /// The highest value probed.
        hi: i64,
    },
    /// A real knob (`workload.arrival_rate`).
    Float {
        /// The lowest value probed.
        lo: f64,
        /// The highest value probed.
        hi: f64,
    },
}

impl Bounds {
    /// The lower bound.
    pub fn lo(self) -> Load {
        match self {
            Bounds::Int { lo, .. } => Load::Int(lo),
            Bounds::Float { lo, .. } => Load::Float(lo),
        }
    }

    /// The upper bound.
    pub fn hi(self) -> Load {
        match self {
            Bounds::Int { hi, .. } => Load::Int(hi),
            Bounds::Float { hi, .. } => Load::Float(hi),
        }
    }
}

/// One value of the searched knob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// An integer value.
    Int(i64),
    /// A real value.
    Float(f64),
}

impl Load {
    /// The value as a number.
    pub fn as_f64(self) -> f64 {
        match self {
            Load::Int(i) => i as f64,
            Load::Float(x) => x,
        }
    }

    /// The value as a config override.
    pub fn to_toml(self) -> Value {
        match self {
            Load::Int(i) => Value::Integer(i),
            Load::Float(x) => Value::Float(x),
        }
    }

    /// The value as a table cell.
    pub fn to_cell(self) -> Cell {
        match self {
            Load::Int(i) => Cell::Int(i),
            Load::Float(x) => Cell::Float(x),
        }
    }
}

/// One service-level objective: the metric column must stay at or below `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// A metric column of the runs table (`ttft_ms_p99`).
    pub column: String,
    /// Its upper bound, in the column's unit.
    pub max: f64,
}

impl SearchSpec {
    /// Reads the `[search]` table of the manifest `source`.
    pub fn parse(table: &Table, source: &str) -> Result<Self, ConfigError> {
        let s = Section::checked(table, "search", source, SEARCH_FIELDS)?;
        let over: String = s.req("over")?;
        if over.is_empty() || over.split('.').any(str::is_empty) {
            return Err(s.error(
                "over",
                "expected a dotted config key such as \"workload.arrival_rate\"",
            ));
        }
        let bounds = parse_bounds(&s)?;
        let tolerance: f64 = s.opt("tolerance")?.unwrap_or(DEFAULT_TOLERANCE);
        if !(tolerance > 0.0 && tolerance < 1.0) {
            return Err(s.error(
                "tolerance",
                format!("expected a relative width in (0, 1), got {tolerance}"),
            ));
        }
        let slos = match (s.table("slo")?, s.sub_section("slo")?) {
            (Some(table), Some(slo)) => parse_slos(table, &slo)?,
            _ => Vec::new(),
        };
        if slos.is_empty() {
            return Err(s.error(
                "slo",
                "expected at least one SLO: a [search.slo] table of metric columns and their upper bounds (ttft_ms_p99 = 2000.0)",
            ));
        }
        Ok(Self {
            over,
            bounds,
            tolerance,
            slos,
            early_stop: s.opt("early_stop")?.unwrap_or(true),
        })
    }

    /// The SLOs as text (`ttft_ms_p99 <= 2000`), for messages and run ids.
    pub fn describe_slos(&self) -> String {
        self.slos
            .iter()
            .map(|s| format!("{} <= {}", s.column, s.max))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn parse_bounds(s: &Section<'_>) -> Result<Bounds, ConfigError> {
    const EXPECTED: &str =
        "expected [LO, HI] with 0 < LO < HI (integers for an integer key such as workload.num_concurrent_users)";
    let bounds = match s.raw("bounds") {
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::Integer(lo), Value::Integer(hi)] => Some(Bounds::Int { lo: *lo, hi: *hi }),
            [lo, hi] => match (number(lo), number(hi)) {
                (Some(lo), Some(hi)) => Some(Bounds::Float { lo, hi }),
                _ => None,
            },
            _ => None,
        },
        None => return Err(s.error("bounds", format!("missing required field ({EXPECTED})"))),
        Some(other) => {
            return Err(s.error("bounds", format!("{EXPECTED}, got {}", describe(other))))
        }
    };
    let ok = |b: Bounds| {
        let (lo, hi) = (b.lo().as_f64(), b.hi().as_f64());
        lo.is_finite() && hi.is_finite() && lo > 0.0 && lo < hi
    };
    match bounds {
        Some(b) if ok(b) => Ok(b),
        _ => Err(s.error("bounds", EXPECTED)),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

/// Checks that an SLO's `column` is a metric column of the runs table; the
/// message suggests the closest one (`did you mean 'ttft_ms_p99'?`).
pub fn check_slo_column(column: &str) -> Result<(), String> {
    if metric(column).is_some() {
        return Ok(());
    }
    let names: Vec<&str> = catalog().iter().map(|m| m.column.as_str()).collect();
    Err(not_a_column(column, &names))
}

fn parse_slos(table: &Table, s: &Section<'_>) -> Result<Vec<Slo>, ConfigError> {
    let mut slos = Vec::new();
    for key in table.keys() {
        check_slo_column(key).map_err(|message| s.error(key, message))?;
        let max: f64 = s.req(key)?;
        if !max.is_finite() || max < 0.0 {
            return Err(s.error(key, format!("expected a bound of at least 0, got {max}")));
        }
        slos.push(Slo {
            column: key.clone(),
            max,
        });
    }
    Ok(slos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<SearchSpec, ConfigError> {
        let doc: Table = body.parse().unwrap();
        SearchSpec::parse(doc["search"].as_table().unwrap(), "m.toml")
    }

    #[test]
    fn reads_the_section_with_defaults() {
        let s = parse("[search]\nover = 'workload.arrival_rate'\nbounds = [0.25, 64]\n[search.slo]\nttft_ms_p99 = 2000\nper_token_ms_p99 = 100.0\n").unwrap();
        assert_eq!(s.bounds, Bounds::Float { lo: 0.25, hi: 64.0 });
        assert_eq!(s.tolerance, DEFAULT_TOLERANCE);
        assert!(s.early_stop);
        assert_eq!(
            s.describe_slos(),
            "ttft_ms_p99 <= 2000, per_token_ms_p99 <= 100"
        );
        let s = parse("[search]\nover = 'workload.num_concurrent_users'\nbounds = [1, 64]\ntolerance = 0.1\nearly_stop = false\n[search.slo]\ne2e_ms_mean = 5000\n").unwrap();
        assert_eq!(s.bounds, Bounds::Int { lo: 1, hi: 64 });
        assert!(!s.early_stop);
    }

    #[test]
    fn bad_sections_name_the_field() {
        let head = "[search]\nover = 'workload.arrival_rate'\n";
        let slo = "[search.slo]\nttft_ms_p99 = 2000\n";
        let cases = [
            (format!("{head}bounds = [4.0, 1.0]\n{slo}"), "search.bounds: expected [LO, HI]"),
            (format!("{head}bounds = [0, 1]\n{slo}"), "0 < LO < HI"),
            (format!("{head}{slo}"), "search.bounds: missing required field"),
            (format!("{head}bounds = [1.0, 2.0]\ntolerance = 1.5\n{slo}"), "search.tolerance"),
            (format!("{head}bounds = [1.0, 2.0]\n"), "search.slo: expected at least one SLO"),
            (
                format!("{head}bounds = [1.0, 2.0]\n[search.slo]\nttft_p99 = 2000\n"),
                "search.slo.ttft_p99: 'ttft_p99' is not a metric column of the runs table; did you mean 'ttft_ms_p99'?",
            ),
            (
                format!("{head}bounds = [1.0, 2.0]\n[search.slo]\nttft_ms_p99 = 'fast'\n"),
                "search.slo.ttft_ms_p99",
            ),
            (format!("{head}bounds = [1.0, 2.0]\nbound = 3\n{slo}"), "did you mean 'bounds'?"),
            ("[search]\nbounds = [1.0, 2.0]\n".to_string(), "search.over: missing"),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}\n  expected: {expected}");
        }
    }
}
