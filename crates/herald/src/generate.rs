//! `herald completions` and `herald man`: shell completion scripts and man pages, generated
//! from the clap command tree at run time.
//!
//! Generated from the same `Cli` that parses the arguments, never written by hand, so a new
//! flag or subcommand shows in completions and in the man page the moment it exists. This
//! module only prints (or, for `man --dir`, writes the pages into a directory the user named);
//! it never installs anything into the system's own directories: where completions go differs
//! by shell and distribution, and `docs/cli.md` says where.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;

/// The binary's name as the shell sees it; completions are keyed by it.
const BIN: &str = "herald";

/// `herald completions SHELL`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    pub shell: Shell,
}

/// `herald man [--dir DIR]`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write one page per command (herald.1, herald-serve.1, …) into this
    /// directory instead of printing the top page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` to stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, BIN, &mut script);
    write_stdout(&script)
}

/// Prints the top man page (roff) to stdout, or writes every page into `--dir`.
pub fn man(args: &ManArgs) -> anyhow::Result<()> {
    match &args.dir {
        Some(dir) => write_pages(dir),
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .context("cannot render the man page")?;
            write_stdout(&page)
        }
    }
}

fn write_pages(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    eprintln!(
        "wrote the man pages into {}; read one with `man -l {}`",
        dir.display(),
        dir.join("herald.1").display()
    );
    Ok(())
}

/// A closed pipe (`herald man | head`) ends the output quietly, as in `table::out`.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(err).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}
