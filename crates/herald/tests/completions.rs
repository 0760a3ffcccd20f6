//! `herald completions` and `herald man`: generated from the command tree, they must name
//! every subcommand, so a shell completes them and `man herald` lists them.

mod support;

use support::{herald, unused_address};

/// Top-level subcommands every generated artefact must know.
const SUBCOMMANDS: &[&str] = &[
    "serve",
    "listen",
    "tenants",
    "event-types",
    "subscriptions",
    "events",
    "deliveries",
    "completions",
    "man",
];

#[tokio::test]
async fn completions_for_bash_zsh_and_fish_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let run = herald(&unused_address(), &["completions", shell]).await;

        assert_eq!(run.code, 0, "{shell}: {run:?}");
        assert!(!run.stdout.trim().is_empty(), "{shell}: empty script");
        for name in SUBCOMMANDS {
            assert!(
                run.stdout.contains(name),
                "{shell} completions do not name `{name}`"
            );
        }
    }
}

#[tokio::test]
async fn completions_for_an_unknown_shell_is_a_usage_error() {
    let run = herald(&unused_address(), &["completions", "cmd.exe"]).await;

    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[tokio::test]
async fn man_prints_a_roff_page_naming_every_subcommand() {
    let run = herald(&unused_address(), &["man"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(".TH herald 1"), "{}", run.stdout);
    for name in SUBCOMMANDS {
        // roff writes every hyphen as `\-`.
        let page = format!("herald-{name}(1)").replace('-', "\\-");
        assert!(
            run.stdout.contains(&page),
            "the man page does not name `{name}`"
        );
    }
}

#[tokio::test]
async fn man_with_dir_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");

    let run = herald(
        &unused_address(),
        &["man", "--dir", pages.to_str().unwrap()],
    )
    .await;

    assert_eq!(run.code, 0, "{run:?}");
    for page in ["herald.1", "herald-serve.1", "herald-deliveries-list.1"] {
        let text = std::fs::read_to_string(pages.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
}
