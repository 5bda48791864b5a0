//! Terminal colour, decided once by the command line and passed down (never
//! sniffed deep inside).

/// Whether and how to colour text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// A style that colours when `color` is true.
    pub fn colored(color: bool) -> Self {
        Self { color }
    }

    /// A style that never colours (files, tests, pipes).
    pub fn plain() -> Self {
        Self { color: false }
    }

    /// Whether colour is on.
    pub fn is_color(self) -> bool {
        self.color
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// A section heading.
    pub fn heading(self, text: &str) -> String {
        self.paint("1;36", text)
    }

    /// A highlighted value.
    pub fn value(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// A secondary note.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    /// A warning word.
    pub fn warn(self, text: &str) -> String {
        self.paint("1;33", text)
    }
}
