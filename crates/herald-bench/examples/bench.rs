//! Runs the bench without the `herald` binary's wiring, e.g.
//! `cargo run --release -p herald-bench --example bench -- --herald-bin target/release/herald`.

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;

/// `bench`: the same flags as `herald bench`.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: herald_bench::BenchArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Err(error) = herald_bench::run(Cli::parse().args).await else {
        return ExitCode::SUCCESS;
    };
    // The error, then each cause, as the `herald` binary prints them.
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("error: {text}");
    ExitCode::FAILURE
}
