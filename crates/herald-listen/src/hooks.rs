//! The hooks file: which command runs for which event type.
//!
//! A hooks file is TOML with optional defaults (`max_concurrent`, `timeout`) and one
//! `[[hook]]` table per rule (format and examples: `docs/hooks.md`). Each rule names event
//! types, exactly or with a trailing `*`, and either a `command` (an argv array, run directly)
//! or a `shell` script (run by `/bin/sh -c`, only because the rule asked for it). Parsing is
//! strict (`deny_unknown_fields`): a misspelt key would otherwise silently disable a deploy.
//! Relative paths in a rule are relative to the hooks file's directory, not to wherever
//! `herald listen` was started, so a file and the scripts beside it move together.
//!
//! [`Hooks::load`] also checks that each rule's program and working directory exist (and the
//! program is executable) before the receiver starts: a rule that cannot run would otherwise
//! be found out by the first webhook, answered 500 again at every retry. [`Hooks::parse`]
//! checks only the text, so it stays testable without the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default time a command may run before it is killed.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);
/// Default number of commands running at once, across all rules.
pub const DEFAULT_MAX_CONCURRENT: usize = 4;

/// Why a hooks file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HooksError {
    /// The file could not be read.
    #[error("cannot read the hooks file {path}; check the --hooks path")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this format.
    #[error("the hooks file {path} is invalid")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why (with line and column).
        source: Box<toml::de::Error>,
    },
    /// A rule is well-formed TOML but cannot be run.
    #[error("hooks file {path}, hook #{index} ({name}): {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based position of the `[[hook]]` table.
        index: usize,
        /// The rule's name.
        name: String,
        /// What to fix.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HooksFile {
    max_concurrent: Option<usize>,
    timeout: Option<String>,
    #[serde(default, rename = "hook")]
    hooks: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: Option<String>,
    events: Vec<String>,
    command: Option<Vec<String>>,
    shell: Option<String>,
    timeout: Option<String>,
    workdir: Option<PathBuf>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// Which event types a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: every event, even one whose body names no type.
    Any,
    /// `consent.*`: types starting with `consent.`.
    Prefix(String),
    /// `consent.revoked`: that type only.
    Exact(String),
}

impl Pattern {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self::Any);
        }
        if text.is_empty() {
            return Err("an empty event type matches nothing; use \"*\" for all".to_owned());
        }
        let (stem, wildcard) = match text.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (text, false),
        };
        if stem.is_empty() || stem.contains('*') {
            return Err(format!(
                "`{text}`: `*` is allowed only once, at the end, as in `consent.*`"
            ));
        }
        if wildcard {
            return Ok(Self::Prefix(stem.to_owned()));
        }
        Ok(Self::Exact(text.to_owned()))
    }

    /// The pattern as written (`*`, `consent.*`, `consent.revoked`).
    pub fn describe(&self) -> String {
        match self {
            Self::Any => "*".to_owned(),
            Self::Prefix(stem) => format!("{stem}*"),
            Self::Exact(name) => name.clone(),
        }
    }

    /// Whether an event of this type (or with no type) matches.
    pub fn matches(&self, event_type: Option<&str>) -> bool {
        match (self, event_type) {
            (Self::Any, _) => true,
            (Self::Prefix(prefix), Some(name)) => name.starts_with(prefix.as_str()),
            (Self::Exact(exact), Some(name)) => name == exact,
            (_, None) => false,
        }
    }
}

/// What a rule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// A program and its arguments, run directly (no shell, no word splitting).
    Exec(Vec<String>),
    /// A script for `/bin/sh -c`.
    Shell(String),
}

/// One `[[hook]]`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Shown in the output and in problems.
    pub name: String,
    /// The event types it runs for.
    pub patterns: Vec<Pattern>,
    /// What it runs.
    pub program: Program,
    /// How long before the command is killed and the request answered 500.
    pub timeout: Duration,
    /// The directory the command runs in.
    pub workdir: PathBuf,
    /// Extra environment variables, on top of the inherited ones and `HERALD_*`.
    pub env: BTreeMap<String, String>,
}

impl Rule {
    /// Whether this rule runs for an event of this type.
    pub fn matches(&self, event_type: Option<&str>) -> bool {
        self.patterns
            .iter()
            .any(|pattern| pattern.matches(event_type))
    }
}

/// A parsed hooks file.
#[derive(Debug, Clone)]
pub struct Hooks {
    /// The rules, in file order (which is the order matching ones run in).
    pub rules: Vec<Rule>,
    /// Commands running at once, across all rules.
    pub max_concurrent: usize,
}

impl Hooks {
    /// Reads and checks a hooks file, and that every program and workdir it names exists.
    pub fn load(path: &Path) -> Result<Self, HooksError> {
        let text = std::fs::read_to_string(path).map_err(|source| HooksError::Read {
            path: path.to_owned(),
            source,
        })?;
        // `hooks.toml` alone has the parent "", which is no directory to run in.
        let base = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let hooks = Self::parse(&text, path, base)?;
        hooks.check_paths(path)?;
        Ok(hooks)
    }

    /// Refuses the first rule whose program or workdir is missing, naming the rule and path.
    fn check_paths(&self, path: &Path) -> Result<(), HooksError> {
        for (index, rule) in self.rules.iter().enumerate() {
            let problem = match &rule.program {
                Program::Exec(argv) => argv.first().and_then(|program| program_problem(program)),
                Program::Shell(_) => None,
            }
            .or_else(|| workdir_problem(&rule.workdir));
            if let Some(reason) = problem {
                return Err(HooksError::Invalid {
                    path: path.to_owned(),
                    index: index + 1,
                    name: rule.name.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Parses hooks-file text; `base` is the directory relative paths are resolved against.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Self, HooksError> {
        let file: HooksFile = toml::from_str(text).map_err(|source| HooksError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let invalid = |index: usize, name: &str, reason: String| HooksError::Invalid {
            path: path.to_owned(),
            index: index + 1,
            name: name.to_owned(),
            reason,
        };
        let default_timeout = match &file.timeout {
            Some(text) => {
                crate::args::parse_duration(text).map_err(|reason| HooksError::Invalid {
                    path: path.to_owned(),
                    index: 0,
                    name: "defaults".to_owned(),
                    reason: format!("timeout: {reason}"),
                })?
            }
            None => DEFAULT_HOOK_TIMEOUT,
        };
        let mut rules = Vec::with_capacity(file.hooks.len());
        for (index, rule) in file.hooks.into_iter().enumerate() {
            let program = match (rule.command, rule.shell) {
                (Some(argv), None) if argv.first().is_some_and(|p| !p.is_empty()) => {
                    Program::Exec(resolve_program(argv, base))
                }
                (Some(_), None) => {
                    let name = rule.name.as_deref().unwrap_or("unnamed");
                    return Err(invalid(index, name, "`command` needs a program".into()));
                }
                (None, Some(script)) => Program::Shell(script),
                _ => {
                    let name = rule.name.as_deref().unwrap_or("unnamed");
                    let reason = "give exactly one of `command = [\"program\", \"arg\"]` or \
                                  `shell = \"script\"`";
                    return Err(invalid(index, name, reason.into()));
                }
            };
            let name = rule.name.unwrap_or_else(|| match &program {
                Program::Exec(argv) => argv.first().cloned().unwrap_or_default(),
                Program::Shell(_) => format!("hook #{}", index + 1),
            });
            if rule.events.is_empty() {
                let reason = "`events` is empty; list event types, or \"*\" for all".into();
                return Err(invalid(index, &name, reason));
            }
            let patterns = rule
                .events
                .iter()
                .map(|text| Pattern::parse(text))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|reason| invalid(index, &name, reason))?;
            let timeout = match &rule.timeout {
                Some(text) => crate::args::parse_duration(text)
                    .map_err(|reason| invalid(index, &name, format!("timeout: {reason}")))?,
                None => default_timeout,
            };
            let workdir = match rule.workdir {
                Some(dir) => base.join(dir),
                None => base.to_owned(),
            };
            rules.push(Rule {
                name,
                patterns,
                program,
                timeout,
                workdir,
                env: rule.env,
            });
        }
        Ok(Self {
            rules,
            max_concurrent: file.max_concurrent.unwrap_or(DEFAULT_MAX_CONCURRENT).max(1),
        })
    }

    /// The rules that run for an event of this type, in file order.
    pub fn matching<'a>(&'a self, event_type: Option<&'a str>) -> impl Iterator<Item = &'a Rule> {
        self.rules
            .iter()
            .filter(move |rule| rule.matches(event_type))
    }
}

/// Why `program` cannot be run, if it cannot: a path must name an executable file, a bare
/// name must be found on `PATH`.
fn program_problem(program: &str) -> Option<String> {
    if program.contains('/') {
        let path = Path::new(program);
        return match std::fs::metadata(path) {
            Err(_) => Some(format!(
                "the program {program} does not exist; fix `command` (a relative path is \
                 relative to the hooks file's directory)"
            )),
            Ok(meta) if !meta.is_file() => Some(format!(
                "the program {program} is not a file; fix `command`"
            )),
            Ok(meta) if !executable(&meta) => Some(format!(
                "the program {program} is not executable; make it so (chmod +x)"
            )),
            Ok(_) => None,
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program)).is_ok_and(|meta| meta.is_file() && executable(&meta))
    });
    (!found).then(|| {
        format!(
            "the program `{program}` is not on PATH; install it, or give its full path in \
             `command`"
        )
    })
}

/// Why `workdir` cannot be a command's working directory, if it cannot.
fn workdir_problem(workdir: &Path) -> Option<String> {
    (!workdir.is_dir()).then(|| {
        format!(
            "the workdir {} does not exist or is not a directory; create it or fix `workdir`",
            workdir.display()
        )
    })
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_meta: &std::fs::Metadata) -> bool {
    true
}

/// `./deploy.sh` means the script beside the hooks file; `git` still means the one on `PATH`.
fn resolve_program(mut argv: Vec<String>, base: &Path) -> Vec<String> {
    if let Some(program) = argv.first_mut() {
        let path = Path::new(program.as_str());
        if path.is_relative() && program.contains('/') {
            *program = base.join(path).to_string_lossy().into_owned();
        }
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Hooks, HooksError> {
        Hooks::parse(text, Path::new("hooks.toml"), Path::new("/etc/herald"))
    }

    #[test]
    fn patterns_match_exact_names_and_trailing_wildcards() {
        let hooks = parse(
            r#"
            [[hook]]
            events = ["consent.*", "deploy.requested"]
            command = ["true"]
            "#,
        )
        .unwrap();
        let rule = &hooks.rules[0];
        assert!(rule.matches(Some("consent.revoked")));
        assert!(rule.matches(Some("deploy.requested")));
        assert!(!rule.matches(Some("deploy.requested.later")));
        assert!(!rule.matches(Some("consent")));
        assert!(!rule.matches(None));
    }

    #[test]
    fn relative_programs_and_workdirs_resolve_beside_the_hooks_file() {
        let hooks = parse(
            r#"
            timeout = "2m"
            [[hook]]
            events = ["*"]
            command = ["./deploy.sh", "prod"]
            workdir = "app"
            "#,
        )
        .unwrap();
        let rule = &hooks.rules[0];
        assert_eq!(
            rule.program,
            Program::Exec(vec!["/etc/herald/./deploy.sh".into(), "prod".into()])
        );
        assert_eq!(rule.workdir, Path::new("/etc/herald/app"));
        assert_eq!(rule.timeout, Duration::from_secs(120));
        assert_eq!(rule.name, "/etc/herald/./deploy.sh");
    }

    #[test]
    fn a_rule_with_both_command_and_shell_is_refused() {
        let err = parse(
            r#"
            [[hook]]
            name = "both"
            events = ["*"]
            command = ["true"]
            shell = "true"
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("exactly one of"), "{err}");
    }

    #[test]
    fn a_misspelt_key_is_refused() {
        let err = parse("[[hook]]\nevents = [\"*\"]\ncomand = [\"true\"]\n").unwrap_err();
        assert!(matches!(err, HooksError::Parse { .. }), "{err}");
    }

    #[test]
    fn a_star_inside_a_pattern_is_refused() {
        let err = parse("[[hook]]\nevents = [\"a.*.b\"]\ncommand = [\"true\"]\n").unwrap_err();
        assert!(err.to_string().contains("only once, at the end"), "{err}");
    }
}
