//! `completions SHELL` and `man DIR`: generated from the clap definitions,
//! they cover every command the parser knows.

mod common;
use clap::CommandFactory;
use common::*;
use inference_lab::cli::Cli;

/// Every subcommand, with its path of parent commands (`["sweep", "merge"]`).
fn subcommands() -> Vec<Vec<String>> {
    fn walk(command: &clap::Command, path: &[String], out: &mut Vec<Vec<String>>) {
        for sub in command.get_subcommands() {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            out.push(p.clone());
            walk(sub, &p, out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &[], &mut out);
    out
}

#[test]
fn completions_cover_every_subcommand_in_every_shell() {
    let all = subcommands();
    assert!(all.len() >= 8, "{all:?}");
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = run(dir.path(), &["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(script.contains("inference-lab"), "{shell}");
        for path in &all {
            let name = path.last().unwrap();
            assert!(
                script.contains(name.as_str()),
                "{shell} completion lacks '{name}'"
            );
        }
        // Flags too: a top-level one and one of a subcommand.
        assert!(
            script.contains("seed") && script.contains("per-request"),
            "{shell}"
        );
    }
    let o = run(dir.path(), &["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "unknown shells are a usage error");
    assert!(
        stderr(&o).contains("possible values: bash"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_bash_completion_loads_and_completes_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["completions", "bash"]);
    let script = dir.path().join("inference-lab.bash");
    std::fs::write(&script, o.stdout).unwrap();
    // Source it, then call the function it registered for the words after `inference-lab sw`.
    let check = format!(
        "source '{}' && f=$(complete -p inference-lab | sed -E 's/.*-F ([^ ]+) .*/\\1/') && COMP_WORDS=(inference-lab sw) COMP_CWORD=1 COMP_LINE='inference-lab sw' COMP_POINT=16 && \"$f\" inference-lab sw inference-lab && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let o = std::process::Command::new("bash")
        .args(["-c", &check])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.lines().any(|l| l == "sweep"), "{out}");
}

#[test]
fn man_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man/man1");
    let o = run(dir.path(), &["man", pages.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut expected: Vec<String> = subcommands()
        .iter()
        .map(|p| format!("inference-lab-{}.1", p.join("-")))
        .collect();
    expected.push("inference-lab.1".into());
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, expected);
    assert_eq!(stdout(&o).lines().count(), expected.len(), "{}", stdout(&o));

    // roff writes '-' as '\-'.
    let page = |name: &str| {
        std::fs::read_to_string(pages.join(name))
            .unwrap()
            .replace("\\-", "-")
    };
    let top = page("inference-lab.1");
    assert!(top.contains(".TH inference-lab 1"), "{top}");
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name();
        assert!(
            top.contains(name),
            "inference-lab.1 does not mention '{name}'"
        );
    }
    assert!(top.contains("seed"), "the page lists the flags");
    let sweep = page("inference-lab-sweep.1");
    assert!(sweep.contains("merge") && sweep.contains("report") && sweep.contains("per-request"));
    let merge = page("inference-lab-sweep-merge.1");
    assert!(merge.contains(".TH inference-lab-sweep-merge 1"), "{merge}");
}

#[test]
fn man_into_an_unwritable_place_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let o = run(dir.path(), &["man", file.join("sub").to_str().unwrap()]);
    // An output that cannot be written: exit 4.
    assert_failure(&o, 4, "cannot create the output directory");
    assert!(stderr(&o).contains("a-file"), "{}", stderr(&o));
}
