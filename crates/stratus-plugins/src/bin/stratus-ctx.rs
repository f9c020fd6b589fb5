//! A standalone `ctx` command (the same client the `stratus` binary runs as `stratus ctx` or
//! when invoked as `ctx`), used by this crate's tests and benchmarks.

fn main() -> std::process::ExitCode {
    stratus_plugins::ctx_main(std::env::args().skip(1).collect())
}
