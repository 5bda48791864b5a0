//! Presenting results: the console report of a run and of a sweep's best
//! points, and the self-contained HTML pages. Reports read tables and
//! results; they compute nothing the sweep layer owns and write no files
//! (the command line writes what they render).

pub mod console;
pub mod html;
pub mod style;
