//! The sweep manifest (`sweeps/*.toml`): which base config, which keys vary
//! and over which values. Parsing only; [`super::plan`] expands it into points.

use super::search::spec::SearchSpec;
use crate::config::fields::{Field, FieldDefault, FieldKind};
use crate::config::{describe, parse_toml, with_hint, ConfigError, Section};
use crate::io::dataset::TemplateArg;
use crate::io::digest::fnv1a;
use crate::io::lines::read_text_file;
use crate::io::workload::DatasetInputs;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

const SECTIONS: &[&str] = &["sweep", "grid", "zip", "search"];
/// The `[sweep]` fields of a manifest.
pub const SWEEP_FIELDS: &[Field] = &[
    Field::new(
        "name",
        FieldKind::Text,
        "names the sweep in its tables (the sweep column)",
    ),
    Field::new(
        "base",
        FieldKind::Path,
        "the config every point starts from, relative to the manifest",
    ),
    Field::new(
        "output",
        FieldKind::Path,
        "the output directory, relative to the manifest (-o wins)",
    )
    .default(FieldDefault::Depends("required unless the command line gives -o")),
    Field::new(
        "tokenizer",
        FieldKind::Path,
        "tokenizer.json of dataset-mode points (--tokenizer wins)",
    )
    .default(FieldDefault::Absent),
    Field::new(
        "chat_template",
        FieldKind::Text,
        "chat template of dataset-mode points: a file relative to the manifest, or none (--chat-template wins)",
    )
    .default(FieldDefault::Absent),
];
const RANGE_FIELDS: &[&str] = &["range", "step"];

/// A parsed, checked manifest. Paths in it are already resolved against the
/// manifest's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Where the manifest was read from (for messages).
    pub source: String,
    /// `sweep.name`: names the sweep in tables (`sweep` column).
    pub name: String,
    /// `sweep.base`: the config every point starts from.
    pub base: PathBuf,
    /// `sweep.output`: the default output directory (`-o` wins).
    pub output: Option<PathBuf>,
    /// `sweep.tokenizer` and `sweep.chat_template`: the tokenizer.json and
    /// chat template of dataset-mode points (a template file is relative to
    /// the manifest, by the rule of [`TemplateArg::parse`]).
    pub dataset: DatasetInputs,
    /// Dimensions of the cartesian product, in manifest order: every `[grid]`
    /// key, then every `[[zip]]` group.
    pub dimensions: Vec<Dimension>,
    /// `[search]`: a capacity search at every point, if the manifest has one.
    pub search: Option<SearchSpec>,
    /// Hash of the manifest's text, so shards of different manifests are told apart.
    pub text_hash: u64,
}

/// One axis of the product: one key (a `[grid]` entry) or several keys that
/// vary together (a `[[zip]]` group).
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    /// The dotted config paths this axis sets.
    pub keys: Vec<String>,
    /// The values, one row per step along the axis, one value per key.
    pub rows: Vec<Vec<Value>>,
}

impl Dimension {
    /// Steps along the axis.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the axis has no steps (never true of a parsed manifest).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let source = path.display().to_string();
        let text = read_text_file(path, usize::MAX).map_err(|e| {
            ConfigError::new(&source, "", format!("cannot read the sweep manifest: {e}"))
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        Self::parse(&text, &source, dir)
    }

    /// Parses manifest text; relative paths are taken relative to `dir`.
    pub fn parse(text: &str, source: &str, dir: &Path) -> Result<Self, ConfigError> {
        let doc = parse_toml(text, source)?;
        let config_sections = crate::config::fields::names(crate::config::SECTIONS);
        if let (false, Some(key)) = (
            doc.contains_key("sweep"),
            doc.keys().find(|k| config_sections.contains(&k.as_str())),
        ) {
            let message = format!(
                "this is a config file (it has '{key}' and no [sweep] section), not a sweep manifest: run it with `inference-lab -c FILE`, or name it as sweep.base in a manifest"
            );
            return Err(ConfigError::new(source, "", message));
        }
        if let Some(key) = doc.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            let message = with_hint(format!("unknown section '{key}'"), key, SECTIONS);
            return Err(ConfigError::new(source, key.as_str(), message));
        }
        let sweep = match doc.get("sweep") {
            Some(Value::Table(t)) => Section::checked(t, "sweep", source, SWEEP_FIELDS)?,
            Some(other) => {
                return Err(ConfigError::new(
                    source,
                    "sweep",
                    format!("expected a table, got {}", describe(other)),
                ))
            }
            None => {
                return Err(ConfigError::new(
                    source,
                    "sweep",
                    "missing required section [sweep] (with name and base)",
                ))
            }
        };
        let name: String = sweep.req("name")?;
        if name.trim().is_empty() {
            return Err(sweep.error("name", "expected a non-empty name"));
        }
        let path = |key: &str| -> Result<Option<PathBuf>, ConfigError> {
            Ok(sweep.opt::<String>(key)?.map(|p| dir.join(p)))
        };
        let base = path("base")?.ok_or_else(|| {
            sweep.error(
                "base",
                "missing required field (expected the path of the base config, relative to the manifest)",
            )
        })?;
        let chat_template = sweep
            .opt::<String>("chat_template")?
            .map(|t| TemplateArg::parse(&t, Some(dir)));
        let mut dimensions = Vec::new();
        if let Some(grid) = table_section(&doc, "grid", source)? {
            for (key, value) in grid {
                let path = format!("grid.\"{key}\"");
                if let Some(dotted) = unquoted_dotted_key(key, value) {
                    return Err(ConfigError::new(
                        source,
                        path,
                        format!(
                            "is a table, not a list: write the key in quotes, \"{dotted}\" = [...], so that it names one config key (TOML reads an unquoted dotted key as nested tables)"
                        ),
                    ));
                }
                dimensions.push(Dimension {
                    keys: vec![check_key(key, source, &path)?],
                    rows: values(value, source, &path)?
                        .into_iter()
                        .map(|v| vec![v])
                        .collect(),
                });
            }
        }
        for (i, group) in zip_groups(&doc, source)?.iter().enumerate() {
            dimensions.push(zip_dimension(group, i, source)?);
        }
        let search = table_section(&doc, "search", source)?
            .map(|t| SearchSpec::parse(t, source))
            .transpose()?;
        if dimensions.is_empty() && search.is_none() {
            return Err(ConfigError::new(
                source,
                "grid",
                "nothing to sweep: add a [grid] of keys with lists of values, or a [[zip]] group",
            ));
        }
        let mut keys: Vec<&str> = Vec::new();
        for key in dimensions.iter().flat_map(|d| &d.keys) {
            if keys.contains(&key.as_str()) {
                return Err(ConfigError::new(
                    source,
                    key.as_str(),
                    "swept twice: a key may appear in [grid] or in one [[zip]] group, once",
                ));
            }
            keys.push(key);
        }
        check_point_count(&dimensions, source)?;
        if let Some(spec) = &search {
            if keys.contains(&spec.over.as_str()) {
                return Err(ConfigError::new(
                    source,
                    "search.over",
                    format!(
                        "'{}' is swept in the grid too: the search chooses its values, so leave it out of [grid] and [[zip]]",
                        spec.over
                    ),
                ));
            }
        }
        Ok(Self {
            source: source.to_string(),
            name,
            base,
            output: path("output")?,
            dataset: DatasetInputs {
                tokenizer: path("tokenizer")?,
                chat_template,
            },
            dimensions,
            search,
            text_hash: fnv1a(text.as_bytes()),
        })
    }

    /// The swept keys in column order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.dimensions
            .iter()
            .flat_map(|d| d.keys.iter().map(String::as_str))
    }

    /// Number of points: the product of the dimensions' lengths.
    pub fn point_count(&self) -> usize {
        self.dimensions.iter().map(Dimension::len).product()
    }
}

/// Values one axis (a `range`, a list or a zip group) may take.
pub const MAX_AXIS_VALUES: u64 = 1_000_000;

/// Points a manifest may have: the product of its axes' lengths. Planning
/// holds every point, so the product is checked before anything is built.
pub const MAX_POINTS: u64 = 10_000_000;

/// Refuses a grid whose product of axis lengths exceeds [`MAX_POINTS`],
/// saying how many points it would be (exactly, whatever the size).
fn check_point_count(dimensions: &[Dimension], source: &str) -> Result<(), ConfigError> {
    let lengths: Vec<u64> = dimensions.iter().map(|d| d.len() as u64).collect();
    let exact = lengths
        .iter()
        .try_fold(1u128, |acc, &n| acc.checked_mul(u128::from(n)));
    if exact.is_some_and(|n| n <= u128::from(MAX_POINTS)) {
        return Ok(());
    }
    let count = exact.map_or_else(
        || {
            let approx: f64 = lengths.iter().map(|&n| n as f64).product();
            format!("about {approx:.3e}")
        },
        |n| n.to_string(),
    );
    let product: Vec<String> = lengths.iter().map(u64::to_string).collect();
    Err(ConfigError::new(
        source,
        "grid",
        format!(
            "the sweep would have {count} points ({}); a sweep takes at most {MAX_POINTS}: split it into several manifests or sweep fewer values",
            product.join(" x ")
        ),
    ))
}

fn table_section<'a>(
    doc: &'a Table,
    name: &str,
    source: &str,
) -> Result<Option<&'a Table>, ConfigError> {
    match doc.get(name) {
        None => Ok(None),
        Some(Value::Table(t)) => Ok(Some(t)),
        Some(other) => Err(ConfigError::new(
            source,
            name,
            format!("expected a table, got {}", describe(other)),
        )),
    }
}

fn zip_groups<'a>(doc: &'a Table, source: &str) -> Result<Vec<&'a Table>, ConfigError> {
    match doc.get("zip") {
        None => Ok(Vec::new()),
        Some(Value::Array(groups)) => groups
            .iter()
            .enumerate()
            .map(|(i, g)| match g {
                Value::Table(t) => Ok(t),
                other => Err(ConfigError::new(
                    source,
                    format!("zip[{i}]"),
                    format!("expected a table ([[zip]]), got {}", describe(other)),
                )),
            })
            .collect(),
        Some(other) => Err(ConfigError::new(
            source,
            "zip",
            format!(
                "expected [[zip]] tables of lists that vary together, got {}",
                describe(other)
            ),
        )),
    }
}

fn zip_dimension(group: &Table, index: usize, source: &str) -> Result<Dimension, ConfigError> {
    let mut keys = Vec::new();
    let mut columns: Vec<Vec<Value>> = Vec::new();
    for (key, value) in group {
        let path = format!("zip[{index}].\"{key}\"");
        keys.push(check_key(key, source, &path)?);
        let column = values(value, source, &path)?;
        if let Some(first) = columns.first() {
            if first.len() != column.len() {
                return Err(ConfigError::new(
                    source,
                    path,
                    format!(
                        "has {} values but \"{}\" has {}: the lists of a [[zip]] group vary together and must have the same length",
                        column.len(),
                        keys[0],
                        first.len()
                    ),
                ));
            }
        }
        columns.push(column);
    }
    let len = columns.first().map_or(0, Vec::len);
    if len == 0 {
        return Err(ConfigError::new(
            source,
            format!("zip[{index}]"),
            "an empty [[zip]] group: give it keys with lists of values",
        ));
    }
    let rows = (0..len)
        .map(|i| columns.iter().map(|c| c[i].clone()).collect())
        .collect();
    Ok(Dimension { keys, rows })
}

/// A swept key: a non-empty dotted path (the config schema checks the rest).
fn check_key(key: &str, source: &str, path: &str) -> Result<String, ConfigError> {
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(ConfigError::new(
            source,
            path,
            "expected a dotted config path such as \"scheduler.policy\"",
        ));
    }
    Ok(key.to_string())
}

/// The dotted key an unquoted `a.b = [...]` in `[grid]` meant: TOML reads
/// it as the table `a = { b = [...] }`. `None` for anything else (a range
/// table, a list).
fn unquoted_dotted_key(key: &str, value: &Value) -> Option<String> {
    let Value::Table(t) = value else {
        return None;
    };
    if t.contains_key("range") || t.len() != 1 {
        return None;
    }
    let (inner, rest) = t.iter().next()?;
    let key = format!("{key}.{inner}");
    match rest {
        Value::Table(_) => unquoted_dotted_key(&key, rest).or(Some(key)),
        _ => Some(key),
    }
}

/// The values of one swept key: a non-empty list, or an inclusive integer
/// range `{ range = [FIRST, LAST], step = S }`.
fn values(value: &Value, source: &str, path: &str) -> Result<Vec<Value>, ConfigError> {
    match value {
        Value::Array(items) if items.is_empty() => Err(ConfigError::new(
            source,
            path,
            "an empty list: give at least one value",
        )),
        Value::Array(items) => Ok(items.clone()),
        Value::Table(t) if t.contains_key("range") => range(t, source, path),
        other => Err(ConfigError::new(
            source,
            path,
            format!(
                "expected a list of values or {{ range = [FIRST, LAST] }}, got {}",
                describe(other)
            ),
        )),
    }
}

fn range(table: &Table, source: &str, path: &str) -> Result<Vec<Value>, ConfigError> {
    let section = Section::new(table, path, source, RANGE_FIELDS)?;
    let bounds = match section.raw("range") {
        Some(Value::Array(b)) => match b.as_slice() {
            [Value::Integer(first), Value::Integer(last)] => Some((*first, *last)),
            _ => None,
        },
        _ => None,
    };
    let Some((first, last)) = bounds else {
        return Err(section.error("range", "expected two integers [FIRST, LAST] (inclusive)"));
    };
    let step = match section.raw("step") {
        None => 1,
        Some(Value::Integer(s)) if *s > 0 => *s,
        Some(other) => {
            return Err(section.error(
                "step",
                format!("expected a positive integer, got {}", describe(other)),
            ))
        }
    };
    if last < first {
        return Err(section.error(
            "range",
            format!("is empty: the last value {last} is below the first {first}"),
        ));
    }
    // In i128: `last - first` of two i64 cannot overflow there.
    let count = (i128::from(last) - i128::from(first)) / i128::from(step) + 1;
    if count > i128::from(MAX_AXIS_VALUES) {
        return Err(section.error(
            "range",
            format!("has {count} values; a sweep axis takes at most {MAX_AXIS_VALUES}"),
        ));
    }
    let count = count as i64;
    Ok((0..count)
        .map(|i| Value::Integer(first + i * step))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ConfigError> {
        Manifest::parse(text, "m.toml", Path::new("sweeps"))
    }

    const HEAD: &str = "[sweep]\nname = \"t\"\nbase = \"../configs/config.toml\"\n";

    #[test]
    fn grid_and_zip_become_dimensions_in_manifest_order() {
        let m = parse(&format!(
            "{HEAD}output = \"../out\"\n[grid]\n\"scheduler.policy\" = [\"fcfs\", \"sof\"]\nhardware = [\"h100\", \"h200\", \"b200\"]\n[[zip]]\n\"workload.arrival_rate\" = [2.0, 5.0]\n\"workload.num_requests\" = [200, 500]\n"
        ))
        .unwrap();
        assert_eq!(m.name, "t");
        assert_eq!(m.base, Path::new("sweeps/../configs/config.toml"));
        assert_eq!(m.output.as_deref(), Some(Path::new("sweeps/../out")));
        let keys: Vec<&str> = m.keys().collect();
        assert_eq!(
            keys,
            [
                "scheduler.policy",
                "hardware",
                "workload.arrival_rate",
                "workload.num_requests"
            ]
        );
        assert_eq!(m.point_count(), 2 * 3 * 2);
        assert_eq!(
            m.dimensions[2].rows[1],
            vec![Value::Float(5.0), Value::Integer(500)]
        );
    }

    #[test]
    fn an_unquoted_dotted_grid_key_gets_a_hint_to_quote_it() {
        let e = parse(&format!(
            "{HEAD}[grid]\nscheduler.policy = [\"fcfs\"]\nworkload.shared_prefix.num_groups = [1]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("grid.\"scheduler\": is a table, not a list: write the key in quotes, \"scheduler.policy\" = [...]"),
            "{e}"
        );
        let e = parse(&format!(
            "{HEAD}[grid]\nworkload.shared_prefix.num_groups = [1]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("\"workload.shared_prefix.num_groups\" = [...]"),
            "{e}"
        );
    }

    #[test]
    fn point_counts_past_the_caps_are_errors_that_say_how_many() {
        let err = |grid: &str| {
            parse(&format!("{HEAD}[grid]\n{grid}"))
                .unwrap_err()
                .to_string()
        };
        // A range over all of i64 neither wraps nor allocates.
        let e =
            err("\"workload.seed\" = { range = [-9223372036854775808, 9223372036854775807] }\n");
        assert!(e.contains("has 18446744073709551616 values"), "{e}");
        let axis = |k: &str, n: u64| format!("\"{k}\" = {{ range = [1, {n}] }}\n");
        let keys = [
            "workload.seed",
            "scheduler.max_num_seqs",
            "workload.num_requests",
            "scheduler.block_size",
        ];
        let four: String = keys.iter().map(|k| axis(k, 65_536)).collect();
        let e = err(&four);
        assert!(
            e.contains(
                "the sweep would have 18446744073709551616 points (65536 x 65536 x 65536 x 65536)"
            ),
            "{e}"
        );
        let three: String = keys[..3].iter().map(|k| axis(k, 1_000)).collect();
        assert!(err(&three).contains("1000000000 points"));
        // At the cap itself a grid is fine.
        let at_cap = format!("{}{}", axis(keys[0], 10_000), axis(keys[1], 1_000));
        let m = parse(&format!("{HEAD}[grid]\n{at_cap}")).unwrap();
        assert_eq!(m.point_count() as u64, MAX_POINTS);
    }

    #[test]
    fn ranges_are_inclusive_with_an_optional_step() {
        let m = parse(&format!(
            "{HEAD}[grid]\n\"workload.seed\" = {{ range = [1, 5] }}\n\"scheduler.max_num_seqs\" = {{ range = [8, 32], step = 8 }}\n"
        ))
        .unwrap();
        let ints = |d: &Dimension| -> Vec<i64> {
            d.rows.iter().map(|r| r[0].as_integer().unwrap()).collect()
        };
        assert_eq!(ints(&m.dimensions[0]), [1, 2, 3, 4, 5]);
        assert_eq!(ints(&m.dimensions[1]), [8, 16, 24, 32]);
        assert_eq!(m.point_count(), 20);
    }

    #[test]
    fn bad_manifests_name_the_field() {
        let cases = [
            (HEAD.to_string(), "grid: nothing to sweep"),
            (format!("{HEAD}[grid]\n"), "grid: nothing to sweep"),
            (
                format!("{HEAD}[grid]\n\"scheduler.policy\" = []\n"),
                "grid.\"scheduler.policy\": an empty list",
            ),
            (
                format!("{HEAD}[grid]\n\"scheduler.policy\" = \"fcfs\"\n"),
                "expected a list of values",
            ),
            (
                format!("{HEAD}[[zip]]\n\"workload.arrival_rate\" = [1.0, 2.0]\n\"workload.num_requests\" = [10]\n"),
                "zip[0].\"workload.num_requests\": has 1 values but \"workload.arrival_rate\" has 2",
            ),
            (
                format!("{HEAD}[grid]\n\"workload.seed\" = {{ range = [5, 1] }}\n"),
                "is empty",
            ),
            (
                format!("{HEAD}[grid]\n\"workload.seed\" = {{ range = [1, 5], stpe = 2 }}\n"),
                "did you mean 'step'?",
            ),
            (
                format!("{HEAD}[grid]\n\"a..b\" = [1]\n"),
                "expected a dotted config path",
            ),
            (
                format!("{HEAD}[grids]\n"),
                "unknown section 'grids'; did you mean 'grid'?",
            ),
            (
                "[sweep]\nname = \"t\"\n[grid]\nx = [1]\n".to_string(),
                "sweep.base: missing required field",
            ),
            (
                format!("{HEAD}[grid]\n\"workload.seed\" = [1]\n[[zip]]\n\"workload.seed\" = [2]\n"),
                "workload.seed: swept twice",
            ),
            ("[sweep\n".to_string(), "invalid TOML: line 1"),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.starts_with("m.toml: "), "{err}");
            assert!(err.contains(expected), "{err}\n  expected: {expected}");
        }
    }

    #[test]
    fn template_files_are_relative_to_the_manifest() {
        let m = parse(&format!(
            "{HEAD}tokenizer = \"tok.json\"\nchat_template = \"t.jinja\"\n[grid]\n\"workload.seed\" = [1]\n"
        ))
        .unwrap();
        assert_eq!(
            m.dataset.tokenizer.as_deref(),
            Some(Path::new("sweeps/tok.json"))
        );
        assert_eq!(
            m.dataset.chat_template,
            Some(TemplateArg::File("sweeps/t.jinja".into()))
        );
        for none in ["None", "none"] {
            let m = parse(&format!(
                "{HEAD}chat_template = \"{none}\"\n[grid]\n\"workload.seed\" = [1]\n"
            ))
            .unwrap();
            assert_eq!(m.dataset.chat_template, Some(TemplateArg::Plain), "{none}");
        }
    }
}
