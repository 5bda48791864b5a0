//! The `inference-lab` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    inference_lab::cli::main()
}
