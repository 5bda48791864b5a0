//! Reads typed fields out of a TOML table while tracking their dotted paths, so that
//! every error names the field, and rejects keys that no field claims.

use super::error::{with_hint, ConfigError};
use super::fields::{names, Field, FieldDefault, Variant};
use toml::{Table, Value};

/// One TOML table being read as a config section (or a nested table such as a
/// distribution). Knows its dotted path and the document it came from.
pub(crate) struct Section<'a> {
    table: &'a Table,
    path: String,
    source: &'a str,
}

impl<'a> Section<'a> {
    /// Starts reading `table` at `path`, failing on any key not in `fields`.
    pub fn new(
        table: &'a Table,
        path: impl Into<String>,
        source: &'a str,
        fields: &[&str],
    ) -> Result<Self, ConfigError> {
        let section = Self::open(table, path, source);
        section.check_fields(fields)?;
        Ok(section)
    }

    /// Starts reading `table` at `path`, failing on any key that is not a
    /// field of the table `fields`.
    pub fn checked(
        table: &'a Table,
        path: impl Into<String>,
        source: &'a str,
        fields: &[Field],
    ) -> Result<Self, ConfigError> {
        Self::new(table, path, source, &names(fields))
    }

    /// Starts reading `table` at `path` as one of the `variants` that its
    /// `tag` key names, failing on any key that variant does not take;
    /// `noun` names the kind of table in that error. Returns the section
    /// and the index of the variant.
    pub fn tagged(
        table: &'a Table,
        path: impl Into<String>,
        source: &'a str,
        tag: &Field,
        variants: &[Variant],
        noun: &str,
    ) -> Result<(Self, usize), ConfigError> {
        let section = Self::open(table, path, source);
        let choices: Vec<(&str, usize)> = variants
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (*name, i))
            .collect();
        let index = section.choice(tag.name, &choices, None)?;
        let fields: Vec<&str> = std::iter::once(tag.name)
            .chain(variants[index].1.iter().map(|f| f.name))
            .collect();
        if let Some(key) = section.unknown_key(&fields) {
            let message = format!(
                "unknown field '{key}' for this {noun} (expected {})",
                fields[1..].join(", ")
            );
            return Err(section.error(key, with_hint(message, key, &fields)));
        }
        Ok((section, index))
    }

    /// `f` as an integer of at least its minimum, or its default when
    /// absent (a field without an integer default is required).
    pub fn int(&self, f: &Field) -> Result<u64, ConfigError> {
        self.int_at_least(f.name, f.min_integer(), f.default_integer())
    }

    /// `f` as an integer of at least its minimum, or `derived` when absent
    /// (a default computed from other fields).
    pub fn int_or(&self, f: &Field, derived: u64) -> Result<u64, ConfigError> {
        self.int_at_least(f.name, f.min_integer(), Some(derived))
    }

    /// `f` as an optional integer of at least its minimum.
    pub fn opt_int(&self, f: &Field) -> Result<Option<u64>, ConfigError> {
        self.opt_int_at_least(f.name, f.min_integer())
    }

    /// `f` as a boolean, or its default when absent.
    pub fn flag(&self, f: &Field) -> Result<bool, ConfigError> {
        Ok(self
            .opt(f.name)?
            .unwrap_or(f.default == FieldDefault::Bool(true)))
    }

    /// `f` as one of `choices` (an enum's `ALL` table), or its default name
    /// when absent.
    pub fn pick<T: Copy>(&self, f: &Field, choices: &[(&str, T)]) -> Result<T, ConfigError> {
        let default = match f.default {
            FieldDefault::Name(name) => choices.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
            _ => None,
        };
        self.choice(f.name, choices, default)
    }

    /// `f` as a number, or its numeric default when absent.
    pub fn number(&self, f: &Field) -> Result<f64, ConfigError> {
        match (self.opt::<f64>(f.name)?, f.default) {
            (Some(v), _) | (None, FieldDefault::Number(v)) => Ok(v),
            _ => self.req(f.name),
        }
    }

    /// `f` as a number strictly above 0, or its numeric default when absent.
    pub fn positive(&self, f: &Field) -> Result<f64, ConfigError> {
        match (self.raw(f.name), f.default) {
            (None, FieldDefault::Number(v)) => Ok(v),
            _ => self.positive_float(f.name),
        }
    }

    /// `f` as an optional number strictly above 0.
    pub fn opt_positive(&self, f: &Field) -> Result<Option<f64>, ConfigError> {
        self.opt_positive_float(f.name)
    }

    /// `f` as a number of at least 0, or its numeric default when absent.
    pub fn non_negative(&self, f: &Field) -> Result<f64, ConfigError> {
        let default = match f.default {
            FieldDefault::Number(v) => Some(v),
            _ => None,
        };
        self.non_negative_float(f.name, default)
    }

    /// `f` as a fraction in (0, 1], or its numeric default when absent.
    pub fn fraction(&self, f: &Field) -> Result<f64, ConfigError> {
        let value = self.number(f)?;
        if !(value > 0.0 && value <= 1.0) {
            return Err(self.error(
                f.name,
                format!("expected a fraction in (0, 1], got {value}"),
            ));
        }
        Ok(value)
    }

    /// `f` as a string (required).
    pub fn text(&self, f: &Field) -> Result<String, ConfigError> {
        self.req(f.name)
    }

    /// Fails on the first key of the table that is not one of `fields`.
    pub fn check_fields(&self, fields: &[&str]) -> Result<(), ConfigError> {
        match self.unknown_key(fields) {
            Some(key) => {
                let message = with_hint(format!("unknown field '{key}'"), key, fields);
                Err(self.error(key, message))
            }
            None => Ok(()),
        }
    }

    /// Starts reading `table` at `path` without checking its keys (the caller
    /// checks them once it knows which fields apply).
    pub fn open(table: &'a Table, path: impl Into<String>, source: &'a str) -> Self {
        Self {
            table,
            path: path.into(),
            source,
        }
    }

    /// The first key of the table that is not one of `fields`.
    pub fn unknown_key(&self, fields: &[&str]) -> Option<&'a str> {
        self.table
            .keys()
            .find(|k| !fields.contains(&k.as_str()))
            .map(String::as_str)
    }

    /// The document this section was read from.
    pub fn source(&self) -> &'a str {
        self.source
    }

    /// The dotted path of `key` inside this section.
    pub fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// An error about `key` of this section.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.source, self.field_path(key), message)
    }

    /// The raw value of `key`, if present.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    /// `key` converted to `T`, or `None` when absent.
    pub fn opt<T: FromValue>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        self.raw(key)
            .map(|v| T::from_value(v).map_err(|m| self.error(key, m)))
            .transpose()
    }

    /// `key` converted to `T`; an error when absent.
    pub fn req<T: FromValue>(&self, key: &str) -> Result<T, ConfigError> {
        self.opt(key)?.ok_or_else(|| {
            self.error(
                key,
                format!("missing required field (expected {})", T::EXPECTED),
            )
        })
    }

    /// `key` as an integer of at least `min`, or `default` when absent.
    pub fn int_at_least(
        &self,
        key: &str,
        min: u64,
        default: Option<u64>,
    ) -> Result<u64, ConfigError> {
        let value = match (self.opt::<u64>(key)?, default) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => return self.req(key),
        };
        if value < min {
            return Err(self.error(
                key,
                format!("expected an integer of at least {min}, got {value}"),
            ));
        }
        Ok(value)
    }

    /// An optional integer of at least `min`.
    pub fn opt_int_at_least(&self, key: &str, min: u64) -> Result<Option<u64>, ConfigError> {
        if self.raw(key).is_none() {
            return Ok(None);
        }
        self.int_at_least(key, min, None).map(Some)
    }

    /// `key` as a number strictly greater than zero.
    pub fn positive_float(&self, key: &str) -> Result<f64, ConfigError> {
        let value: f64 = self.req(key)?;
        if value <= 0.0 {
            return Err(self.error(key, format!("expected a number above 0, got {value}")));
        }
        Ok(value)
    }

    /// An optional number strictly greater than zero.
    pub fn opt_positive_float(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        if self.raw(key).is_none() {
            return Ok(None);
        }
        self.positive_float(key).map(Some)
    }

    /// `key` as a number of at least 0, or `default` when absent.
    pub fn non_negative_float(&self, key: &str, default: Option<f64>) -> Result<f64, ConfigError> {
        let value: f64 = match (self.opt(key)?, default) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => self.req(key)?,
        };
        if value < 0.0 {
            return Err(self.error(key, format!("expected a number of at least 0, got {value}")));
        }
        Ok(value)
    }

    /// `key` parsed as one of an enum's names.
    pub fn choice<T: Copy>(
        &self,
        key: &str,
        choices: &[(&str, T)],
        default: Option<T>,
    ) -> Result<T, ConfigError> {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let name: String = match (self.opt::<String>(key)?, default) {
            (Some(name), _) => name,
            (None, Some(d)) => return Ok(d),
            (None, None) => {
                return Err(self.error(
                    key,
                    format!(
                        "missing required field (expected one of: {})",
                        names.join(", ")
                    ),
                ))
            }
        };
        if let Some((_, value)) = choices.iter().find(|(n, _)| *n == name) {
            return Ok(*value);
        }
        let message = with_hint(
            format!(
                "unknown value '{name}' (expected one of: {})",
                names.join(", ")
            ),
            &name,
            &names,
        );
        Err(self.error(key, message))
    }

    /// The nested table at `key`, if present; an error if it is not a table.
    pub fn table(&self, key: &str) -> Result<Option<&'a Table>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(other) => {
                Err(self.error(key, format!("expected a table, got {}", describe(other))))
            }
        }
    }
    /// The nested table at `key` as a section (its keys unchecked), if present.
    pub fn sub_section(&self, key: &str) -> Result<Option<Section<'a>>, ConfigError> {
        Ok(self
            .table(key)?
            .map(|t| Section::open(t, self.field_path(key), self.source)))
    }
}

/// Conversion of one TOML value into a config field type, with a description
/// of what was expected for error messages.
pub(crate) trait FromValue: Sized {
    /// What a valid value looks like, for "missing field" messages.
    const EXPECTED: &'static str;
    /// Converts, or explains why not.
    fn from_value(value: &Value) -> Result<Self, String>;
}

/// A short description of a TOML value for error messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string \"{}\"", super::excerpt(s)),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Datetime(d) => format!("the date {d}"),
        Value::Array(_) => "an array".to_string(),
        Value::Table(_) => "a table".to_string(),
    }
}

impl FromValue for u64 {
    const EXPECTED: &'static str = "a non-negative integer";
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Integer(i) if *i >= 0 => Ok(*i as u64),
            // Users write large sizes as 80e9: accept whole, non-negative floats.
            Value::Float(f) if f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 9.2e18 => {
                Ok(*f as u64)
            }
            other => Err(format!(
                "expected {}, got {}",
                Self::EXPECTED,
                describe(other)
            )),
        }
    }
}

impl FromValue for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Integer(i) => Ok(*i as f64),
            Value::Float(f) if f.is_finite() => Ok(*f),
            other => Err(format!("expected a finite number, got {}", describe(other))),
        }
    }
}

impl FromValue for bool {
    const EXPECTED: &'static str = "true or false";
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Boolean(b) => Ok(*b),
            other => Err(format!("expected true or false, got {}", describe(other))),
        }
    }
}

impl FromValue for String {
    const EXPECTED: &'static str = "a string";
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("expected a string, got {}", describe(other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn unknown_keys_are_rejected_with_a_hint() {
        let t = table("polcy = 'fcfs'");
        let err = Section::new(&t, "scheduler", "c.toml", &["policy"])
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "c.toml: scheduler.polcy: unknown field 'polcy'; did you mean 'policy'?"
        );
    }

    #[test]
    fn integers_accept_whole_floats_but_not_fractions_or_negatives() {
        let t = table("a = 80e9\nb = 1.5\nc = -3\nd = 'x'");
        let s = Section::new(&t, "hw", "c.toml", &["a", "b", "c", "d"]).unwrap();
        assert_eq!(s.req::<u64>("a").unwrap(), 80_000_000_000);
        assert!(s.req::<u64>("b").is_err());
        let err = s.req::<u64>("c").unwrap_err();
        assert_eq!(
            err.message,
            "expected a non-negative integer, got the integer -3"
        );
        assert!(s.req::<u64>("d").unwrap_err().to_string().contains("hw.d"));
    }

    #[test]
    fn bounds_and_defaults() {
        let t = table("zero = 0\nrate = -1.0");
        let s = Section::new(&t, "x", "c", &["zero", "rate", "absent"]).unwrap();
        assert!(s.int_at_least("zero", 1, None).is_err());
        assert_eq!(s.int_at_least("absent", 1, Some(16)).unwrap(), 16);
        assert!(s
            .int_at_least("absent", 1, None)
            .unwrap_err()
            .message
            .contains("missing"));
        assert!(s.positive_float("rate").is_err());
    }
}
