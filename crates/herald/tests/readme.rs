//! The README works outside the repository: it installs the binary and then uses `herald …`,
//! and the two commands at its top stay as they are.

mod support;

use support::{herald, unused_address};

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    std::fs::read_to_string(path).expect("README.md")
}

/// The text from `## Install` on: everything a user runs after installing.
fn after_install(readme: &str) -> &str {
    let start = readme.find("## Install").expect("an Install section");
    &readme[start..]
}

#[test]
fn the_two_commands_stay_at_the_top_and_the_rest_uses_the_installed_binary() {
    let readme = readme();
    let install = readme.find("## Install").expect("an Install section");
    let top = &readme[..install];
    assert!(top.contains("```sh\ncargo run --release -- serve\n```"));
    assert!(top.contains("```sh\ncargo test --workspace\n```"));

    let rest = after_install(&readme);
    assert!(rest.contains("cargo install --locked --path crates/herald"));
    assert!(
        !rest.contains("cargo run"),
        "after Install, examples use `herald …`, not `cargo run`"
    );
}

#[tokio::test]
async fn every_herald_command_in_the_readme_exists() {
    let readme = readme();
    let mut commands: Vec<Vec<&str>> = after_install(&readme)
        .lines()
        .map(str::trim_start)
        .filter_map(|line| line.strip_prefix("herald "))
        .map(|rest| {
            rest.split_whitespace()
                .take_while(|w| {
                    w.starts_with(|c: char| c.is_ascii_lowercase())
                        && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                })
                .take(2)
                .collect()
        })
        .collect();
    commands.sort();
    commands.dedup();
    assert!(commands.len() >= 5, "{commands:?}");
    for words in commands {
        let mut args = words.clone();
        args.push("--help");
        let run = herald(&unused_address(), &args).await;
        assert_eq!(
            run.code,
            0,
            "`herald {}` is not a command: {run:?}",
            words.join(" ")
        );
    }
}
