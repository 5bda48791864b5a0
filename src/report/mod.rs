//! Presenting results: the console report, the JSON file, progress display, and
//! writing files atomically. This is where the CLI's I/O lives.

pub mod console;
pub mod files;
pub mod html;
pub mod progress;
pub mod style;
