//! Refusing an output path that names an input (or another output) of the
//! same command, before anything is written: `-c c.toml -o c.toml` would
//! otherwise replace the config with the results.

use super::Failure;
use std::path::{Path, PathBuf};

/// A path of the command line with what it is, for the message: an input
/// (`the config file (-c)`) or an output's flag (`-o`, `--plot`).
pub type Named<'a> = (&'a str, &'a Path);

/// A usage error when an output is the same file as an input or as an
/// earlier output. Inputs are compared by their canonical paths (an input
/// that does not exist is equal to nothing); outputs by the canonical path
/// of their directory and their name, so that two outputs that do not exist
/// yet still clash.
pub fn check_outputs(inputs: &[Named<'_>], outputs: &[Named<'_>]) -> Result<(), Failure> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        let Some(id) = output_identity(out) else {
            continue;
        };
        if let Some((what, _)) = inputs
            .iter()
            .find(|(_, p)| std::fs::canonicalize(p).is_ok_and(|c| c == id))
        {
            return Err(Failure::usage(format!(
                "{flag} '{}' is {what}: refusing to overwrite an input; write the output elsewhere",
                out.display()
            )));
        }
        if let Some((other, _)) = outputs[..i]
            .iter()
            .find(|(_, p)| output_identity(p).as_ref() == Some(&id))
        {
            return Err(Failure::usage(format!(
                "{flag} '{}' is also the {other} output: give each output its own file",
                out.display()
            )));
        }
    }
    Ok(())
}

/// Where `path` is or will be: its canonical path, or, when it does not
/// exist yet, its directory's canonical path joined with its name (`None`
/// when the directory does not exist either: the write will say so).
fn output_identity(path: &Path) -> Option<PathBuf> {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return Some(canonical);
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_may_not_be_inputs_or_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "").unwrap();
        let same = dir.path().join(".").join("c.toml");
        let inputs = [("the config file (-c)", config.as_path())];
        let e = check_outputs(&inputs, &[("-o", &same)]).unwrap_err();
        assert_eq!(e.exit_code(), super::super::EXIT_USAGE);
        assert!(
            e.message().contains("is the config file (-c)"),
            "{}",
            e.message()
        );
        let new = dir.path().join("new.json");
        assert!(check_outputs(&inputs, &[("-o", &new)]).is_ok());
        let e = check_outputs(&inputs, &[("-o", &new), ("--plot", &new)]).unwrap_err();
        assert!(
            e.message().contains("also the -o output"),
            "{}",
            e.message()
        );
        let missing = dir.path().join("missing.toml");
        let inputs = [("the config file (-c)", missing.as_path())];
        assert!(check_outputs(&inputs, &[("-o", &missing)]).is_ok());
    }
}
