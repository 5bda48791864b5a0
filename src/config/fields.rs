//! The field tables: every key a config section may hold, with its type,
//! bounds, default, unit and meaning. One table per section is the one
//! source of truth for the parser (which keys exist, what each defaults to,
//! how small it may be), for the documentation and for the JSON Schemas that
//! editors validate configs with. A parser reads a field through its entry
//! (`Section::int` and friends), so a default
//! written here is the default the simulator uses.

/// The type of a field's value, with the bounds the parser enforces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldKind {
    /// A non-negative integer of at least `min` (whole floats such as `80e9` are accepted).
    Integer {
        /// The smallest accepted value.
        min: u64,
    },
    /// A finite number strictly above 0.
    Positive,
    /// A finite number in a closed range.
    Number {
        /// The smallest accepted value.
        min: f64,
        /// The largest accepted value.
        max: f64,
    },
    /// A fraction in (0, 1].
    Fraction,
    /// `true` or `false`.
    Bool,
    /// A string.
    Text,
    /// A file path; relative paths are relative to the config file.
    Path,
    /// One of a fixed set of names.
    Choice(&'static [&'static str]),
    /// Two numbers, `[LOW, HIGH]`.
    Bounds,
    /// A table of names (metric columns) to numbers.
    NumberMap,
    /// A table tagged by its `type` key: each variant (the tag's value)
    /// has fields of its own (`{ type = "fixed", value = 10 }`).
    Tagged(&'static [Variant]),
    /// A nested table with a field table of its own.
    Table(&'static [Field]),
    /// A preset name or a table of fields (`hardware = "h100"`).
    PresetOrTable(&'static [Field]),
    /// The path of a file holding a table of fields, or that table inline
    /// (`calibration = "calibrations/h200.toml"`).
    PathOrTable(&'static [Field]),
    /// An array of tables of `items`, or one table of the `tagged` variants
    /// (a piecewise rate schedule, or a sine).
    ListOrTagged {
        /// The fields of each table of the array.
        items: &'static [Field],
        /// The variants of the single-table form.
        tagged: &'static [Variant],
    },
}

/// One variant of a [`FieldKind::Tagged`] table: the value of its `type`
/// key and the other fields it takes.
pub type Variant = (&'static str, &'static [Field]);

/// What a field is when it is absent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldDefault {
    /// It must be given.
    Required,
    /// It is optional and has no value when absent.
    Absent,
    /// This integer.
    Integer(u64),
    /// This number.
    Number(f64),
    /// This boolean.
    Bool(bool),
    /// This name (of a [`FieldKind::Choice`]).
    Name(&'static str),
    /// Computed from other fields, as described.
    Derived(&'static str),
    /// Required or not depending on other fields, as described.
    Depends(&'static str),
}

/// One key of a config section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    /// The key.
    pub name: &'static str,
    /// Its type and bounds.
    pub kind: FieldKind,
    /// Its value when absent.
    pub default: FieldDefault,
    /// Its unit, empty when it has none (`tokens`, `bytes/s`, `s`).
    pub unit: &'static str,
    /// What it means, for people.
    pub doc: &'static str,
}

impl Field {
    /// A field of `kind` with no default (set the rest with the builders).
    pub const fn new(name: &'static str, kind: FieldKind, doc: &'static str) -> Self {
        Self {
            name,
            kind,
            default: FieldDefault::Required,
            unit: "",
            doc,
        }
    }

    /// The same field with the default `default`.
    pub const fn default(self, default: FieldDefault) -> Self {
        Self { default, ..self }
    }

    /// The same field in `unit`.
    pub const fn unit(self, unit: &'static str) -> Self {
        Self { unit, ..self }
    }

    /// The integer default, if the field has one.
    pub fn default_integer(&self) -> Option<u64> {
        match self.default {
            FieldDefault::Integer(v) => Some(v),
            _ => None,
        }
    }

    /// The smallest accepted integer (0 for non-integer fields).
    pub fn min_integer(&self) -> u64 {
        match self.kind {
            FieldKind::Integer { min } => min,
            _ => 0,
        }
    }
}

/// The names of an enum's `ALL` table (`[(name, value); N]`), for
/// [`FieldKind::Choice`]: the choices a field lists are the parser's.
pub const fn choice_names<T: Copy, const N: usize>(
    all: [(&'static str, T); N],
) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = all[i].0;
        i += 1;
    }
    names
}

/// The keys of a field table, in table order.
pub fn names(fields: &[Field]) -> Vec<&'static str> {
    fields.iter().map(|f| f.name).collect()
}

/// The entry of `name` in `fields`.
pub fn field<'a>(fields: &'a [Field], name: &str) -> Option<&'a Field> {
    fields.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Field] = &[
        Field::new("a", FieldKind::Integer { min: 1 }, "an a").default(FieldDefault::Integer(4)),
        Field::new("b", FieldKind::Bool, "a b").unit("s"),
    ];

    #[test]
    fn builders_and_lookups() {
        assert_eq!(names(TABLE), ["a", "b"]);
        let a = field(TABLE, "a").unwrap();
        assert_eq!((a.default_integer(), a.min_integer()), (Some(4), 1));
        let b = field(TABLE, "b").unwrap();
        assert_eq!((b.default, b.unit), (FieldDefault::Required, "s"));
        assert!(field(TABLE, "c").is_none());
    }
}
