//! Hooks: real commands, chosen by event type, with the body on stdin and the event in env.

use crate::support::*;

/// A script that records its stdin and `HERALD_*` environment into `$OUT`.
fn recorder(dir: &std::path::Path) -> String {
    script(
        dir,
        "record.sh",
        "#!/bin/sh\ncat > \"$OUT/body\"\n\
         printf '%s\\n%s\\n%s\\n' \"$HERALD_EVENT_ID\" \"$HERALD_EVENT_TYPE\" \"$HERALD_TIMESTAMP\" > \"$OUT/env\"\n",
    )
}

#[tokio::test]
async fn a_matching_hook_gets_the_body_on_stdin_and_the_event_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let program = recorder(dir.path());
    let hooks = hooks_file(
        dir.path(),
        &format!(
            "[[hook]]\nname = \"record\"\nevents = [\"repository.*\"]\ncommand = [\"{program}\"]\n\
             env = {{ OUT = \"{}\" }}\n",
            dir.path().display()
        ),
    );
    let server = Server::start(&["--secret", SECRET, "--hooks", &hooks]).await;
    let body = envelope("repository.pushed");
    let timestamp = now();
    let request = signed_at(
        &client(),
        &server.url("/"),
        SECRET,
        "msg_hook",
        timestamp,
        body.clone(),
    );
    assert_eq!(send(request).await.0, 200);

    assert_eq!(
        std::fs::read_to_string(dir.path().join("body")).unwrap(),
        body
    );
    let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    assert_eq!(env, format!("msg_hook\nrepository.pushed\n{timestamp}\n"));
    assert!(
        server.lines()[0].contains("record exited 0"),
        "{}",
        server.lines()[0]
    );
}

#[tokio::test]
async fn hooks_for_other_event_types_do_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let program = recorder(dir.path());
    let hooks = hooks_file(
        dir.path(),
        &format!(
            "[[hook]]\nevents = [\"deploy.requested\"]\ncommand = [\"{program}\"]\n\
             env = {{ OUT = \"{}\" }}\n",
            dir.path().display()
        ),
    );
    let server = Server::start(&["--insecure-no-verify", "--hooks", &hooks]).await;
    let (status, _) = send(post(server.url("/")).body(envelope("deploy.requested.later"))).await;
    assert_eq!(status, 200);
    assert!(!dir.path().join("body").exists());
    assert!(server.lines()[0].contains("no hook for this event type"));
}

#[tokio::test]
async fn a_hook_that_exits_non_zero_answers_500_so_the_sender_retries() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = hooks_file(
        dir.path(),
        "[[hook]]\nname = \"fails\"\nevents = [\"*\"]\nshell = \"echo secret-detail >&2; exit 3\"\n",
    );
    let server = Server::start(&[
        "--insecure-no-verify",
        "--hooks",
        &hooks,
        "--json",
        "--verbose",
    ])
    .await;
    let (status, problem) = send(post(server.url("/")).body("{}")).await;
    assert_eq!(status, 500);
    assert_eq!(problem_slug(&problem), "hook-failed");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("fails exited 3"), "{detail}");
    assert!(
        !detail.contains("secret-detail"),
        "command output must stay local"
    );
    let record: serde_json::Value = serde_json::from_str(&server.lines()[0]).unwrap();
    assert_eq!(record["hooks"][0]["stderr"], "secret-detail\n");
    assert!(
        record["notes"]
            .to_string()
            .contains("fails stderr: secret-detail")
    );
}

#[tokio::test]
async fn a_hook_that_outlives_its_timeout_is_killed_and_answered_500() {
    let dir = tempfile::tempdir().unwrap();
    // The shell writes its pid, then becomes `sleep 30` (exec keeps the pid).
    let hooks = hooks_file(
        dir.path(),
        "[[hook]]\nname = \"slow\"\nevents = [\"*\"]\nshell = \"echo $$ > pid; exec sleep 30\"\n\
         timeout = \"1s\"\n",
    );
    let server = Server::start(&["--insecure-no-verify", "--hooks", &hooks]).await;
    let (status, problem) = send(post(server.url("/")).body("{}")).await;
    assert_eq!(status, 500);
    assert_eq!(problem_slug(&problem), "hook-timed-out");
    let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
    let alive = std::process::Command::new("kill")
        .args(["-0", pid.trim()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        !alive.success(),
        "the command ({}) was killed before the answer",
        pid.trim()
    );
}

#[tokio::test]
async fn a_command_rule_passes_its_arguments_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = hooks_file(
        dir.path(),
        "[[hook]]\nname = \"echo\"\nevents = [\"*\"]\n\
         command = [\"printf\", \"%s\", \"$HERALD_EVENT_ID; touch pwned\"]\n",
    );
    let server = Server::start(&[
        "--insecure-no-verify",
        "--hooks",
        &hooks,
        "--json",
        "--verbose",
    ])
    .await;
    let request = post(server.url("/")).header("webhook-id", "m1").body("{}");
    assert_eq!(send(request).await.0, 200);
    let record: serde_json::Value = serde_json::from_str(&server.lines()[0]).unwrap();
    assert_eq!(
        record["hooks"][0]["stdout"],
        "$HERALD_EVENT_ID; touch pwned"
    );
    assert!(!dir.path().join("pwned").exists());
}

#[tokio::test]
async fn a_shell_rule_runs_through_sh_with_the_event_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = hooks_file(
        dir.path(),
        "[[hook]]\nevents = [\"*\"]\nshell = \"echo \\\"$HERALD_EVENT_ID\\\" > seen && wc -c >> seen\"\n",
    );
    let server = Server::start(&["--insecure-no-verify", "--hooks", &hooks]).await;
    let request = post(server.url("/"))
        .header("webhook-id", "m7")
        .body("12345");
    assert_eq!(send(request).await.0, 200);
    let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
    assert_eq!(seen.split_whitespace().collect::<Vec<_>>(), ["m7", "5"]);
}

#[tokio::test]
async fn a_hook_that_cannot_start_answers_500() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "gone.sh", "#!/bin/sh\n");
    let hooks = hooks_file(
        dir.path(),
        &format!("[[hook]]\nname = \"gone\"\nevents = [\"*\"]\ncommand = [\"{program}\"]\n"),
    );
    let server = Server::start(&["--insecure-no-verify", "--hooks", &hooks]).await;
    // It existed at start; removed since, so it cannot start now.
    std::fs::remove_file(&program).unwrap();
    let (status, problem) = send(post(server.url("/")).body("{}")).await;
    assert_eq!(status, 500);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("could not start")
    );
}

#[test]
fn the_examples_in_docs_hooks_md_are_valid_hooks_files() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/hooks.md");
    let text = std::fs::read_to_string(&docs).unwrap();
    let blocks: Vec<&str> = text
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .collect();
    assert_eq!(blocks.len(), 4, "the format block and three examples");
    let mut names = Vec::new();
    for block in blocks {
        let hooks = herald_listen::Hooks::parse(block, &docs, std::path::Path::new("/etc/herald"))
            .unwrap_or_else(|err| panic!("{err}\n{block}"));
        names.extend(hooks.rules.into_iter().map(|rule| rule.name));
    }
    assert_eq!(names, ["notify", "mirror", "ci-build", "deploy"]);
}

/// The refusal `--hooks` with this file text gets at start, as the binary would print it.
fn refusal(dir: &std::path::Path, text: &str) -> String {
    let hooks = hooks_file(dir, text);
    let error =
        herald_listen::Config::from_args(&args(&["--insecure-no-verify", "--hooks", &hooks]))
            .unwrap_err();
    printed_once(&error)
}

#[test]
fn a_rule_whose_program_does_not_exist_is_refused_at_start_naming_rule_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[[hook]]\nname = \"ok\"\nevents = [\"*\"]\ncommand = [\"true\"]\n\
                [[hook]]\nname = \"deploy\"\nevents = [\"*\"]\ncommand = [\"./deploy.sh\"]\n";
    let message = refusal(dir.path(), text);
    assert!(message.contains("hook #2 (deploy)"), "{message}");
    let program = dir.path().join("./deploy.sh");
    assert!(
        message.contains(&format!("{} does not exist", program.display())),
        "{message}"
    );
}

#[test]
fn a_rule_whose_program_is_not_executable_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain.sh"), "#!/bin/sh\n").unwrap();
    let message = refusal(
        dir.path(),
        "[[hook]]\nname = \"plain\"\nevents = [\"*\"]\ncommand = [\"./plain.sh\"]\n",
    );
    assert!(message.contains("hook #1 (plain)"), "{message}");
    assert!(message.contains("is not executable"), "{message}");
}

#[test]
fn a_rule_whose_program_is_not_on_path_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let message = refusal(
        dir.path(),
        "[[hook]]\nevents = [\"*\"]\ncommand = [\"herald-no-such-program\"]\n",
    );
    assert!(
        message.contains("`herald-no-such-program` is not on PATH"),
        "{message}"
    );
}

#[test]
fn a_rule_whose_workdir_does_not_exist_is_refused_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let message = refusal(
        dir.path(),
        "[[hook]]\nname = \"build\"\nevents = [\"*\"]\nshell = \"make\"\nworkdir = \"app\"\n",
    );
    assert!(message.contains("hook #1 (build)"), "{message}");
    let workdir = dir.path().join("app");
    assert!(
        message.contains(&format!("workdir {} does not exist", workdir.display())),
        "{message}"
    );
}
