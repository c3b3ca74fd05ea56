//! The `sim` binary: parse arguments, run, map the outcome to an exit code (see `cli`).

fn main() -> std::process::ExitCode {
    bakong_sim::cli::main()
}
