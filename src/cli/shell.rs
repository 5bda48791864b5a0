//! `completions SHELL` and `man DIR`: shell completion scripts and man
//! pages, generated from the clap definitions the parser uses, so they list
//! exactly the commands and flags that exist.

use super::args::{Cli, CompletionsArgs, ManArgs};
use super::{Outcome, EXIT_OK};
use crate::io::{self, files::write_atomic};
use clap::CommandFactory;
use std::path::PathBuf;

/// Prints the completion script of the chosen shell.
pub fn completions(args: &CompletionsArgs) -> Outcome {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    super::print_stdout(&String::from_utf8_lossy(&script))?;
    Ok(EXIT_OK)
}

/// Writes one man page per command and subcommand into `args.dir` and lists them.
pub fn man(args: &ManArgs) -> Outcome {
    std::fs::create_dir_all(&args.dir).map_err(|e| io::Error::create_dir(&args.dir, e))?;
    let mut command = Cli::command().disable_help_subcommand(true);
    // Building names each subcommand for its page (inference-lab-sweep-merge).
    command.build();
    let mut written = Vec::new();
    write_pages(command, args, &mut written)?;
    let list: String = written
        .iter()
        .map(|p| format!("wrote {}\n", p.display()))
        .collect();
    super::print_stdout(&list)?;
    Ok(EXIT_OK)
}

/// Writes the page of `command`, then those of its subcommands.
fn write_pages(
    command: clap::Command,
    args: &ManArgs,
    written: &mut Vec<PathBuf>,
) -> Result<(), io::Error> {
    let subcommands: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .cloned()
        .collect();
    let page = clap_mangen::Man::new(command);
    let path = args.dir.join(page.get_filename());
    let mut text = Vec::new();
    page.render(&mut text)
        .map_err(|e| io::Error::write_as("the man page", &path, e))?;
    write_atomic(&path, &text).map_err(|e| io::Error::write_as("the man page", &path, e))?;
    written.push(path);
    for sub in subcommands {
        write_pages(sub, args, written)?;
    }
    Ok(())
}
