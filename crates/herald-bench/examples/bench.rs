//! Runs the bench without the `herald` binary's wiring, e.g.
//! `cargo run --release -p herald-bench --example bench -- --herald-bin target/release/herald`.

use clap::Parser;

/// `bench`: the same flags as `herald bench`.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: herald_bench::BenchArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    herald_bench::run(Cli::parse().args).await
}
