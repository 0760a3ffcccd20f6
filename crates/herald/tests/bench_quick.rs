//! `herald bench --quick`: every scenario still runs end to end at tiny size, so the bench
//! cannot rot: on SQLite, and on PostgreSQL with one node and with two when
//! `HERALD_TEST_DATABASE_URL` is set (see `herald_testkit::postgres_url`; required under CI).
//! It asserts that each scenario completed, that every delivery arrived and none twice, never
//! how fast: timings are the benchmark's business, not a test's.

use std::process::Command;

use serde_json::Value;

/// Runs `herald bench --quick --json` with `extra` arguments; returns its report.
fn quick_bench(extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["bench", "--quick", "--json", "--deadline", "120"])
        .args(extra)
        .env_remove("HERALD_TOKEN")
        .env_remove("HERALD_URL")
        .output()
        .expect("run herald bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "herald bench failed:\n{stderr}");
    serde_json::from_slice(&output.stdout).expect("JSON report")
}

/// Both limits measured, every scenario complete with every delivery arrived once.
fn assert_every_scenario_complete(report: &Value) {
    for limit in ["limit", "limit_hyper"] {
        assert!(
            report[limit]["requests"].as_u64().unwrap_or(0) > 0,
            "{limit}: {report:#}"
        );
    }
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let names: Vec<&str> = scenarios
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["steady", "fanout", "latency", "noisy", "backlog"]);
    for scenario in scenarios {
        let name = &scenario["name"];
        assert_eq!(
            scenario["complete"], true,
            "{name} incomplete: {scenario:#}"
        );
        let deliveries = scenario["deliveries"].as_u64().unwrap_or(0);
        assert!(deliveries > 0, "{name} delivered nothing: {scenario:#}");
        assert_eq!(
            scenario["arrived"].as_u64(),
            Some(deliveries),
            "{name}: {scenario:#}"
        );
        assert_eq!(scenario["duplicates"], 0, "{name}: {scenario:#}");
        assert!(
            scenario["process"]["cpu_seconds"].is_number(),
            "{name}: {scenario:#}"
        );
    }
    let latency = scenarios
        .iter()
        .find(|s| s["name"] == "latency")
        .expect("latency");
    assert_eq!(
        latency["latency"].as_array().map(Vec::len),
        Some(2),
        "{latency:#}"
    );
}

#[test]
fn every_bench_scenario_completes_at_quick_size() {
    let report = quick_bench(&[]);
    assert_eq!(report["store"], "sqlite", "{report:#}");
    assert_every_scenario_complete(&report);
}

#[test]
fn every_bench_scenario_completes_on_postgres_with_one_node_and_with_two() {
    let Some(url) = herald_testkit::postgres_url() else {
        return;
    };
    for nodes in [1_usize, 2] {
        let report = quick_bench(&["--database-url", &url, "--nodes", &nodes.to_string()]);
        assert_eq!(report["store"], "postgres", "{report:#}");
        assert_eq!(report["nodes"].as_u64(), Some(nodes as u64), "{report:#}");
        assert_every_scenario_complete(&report);
        for scenario in report["scenarios"].as_array().expect("scenarios") {
            assert!(
                scenario["commits"].as_u64().unwrap_or(0) > 0,
                "commits read from pg_stat_database: {scenario:#}"
            );
            // Per-node lines come with several nodes, and their deliveries add up.
            let per_node = scenario["nodes"].as_array().expect("nodes");
            if nodes == 1 {
                assert!(per_node.is_empty(), "{scenario:#}");
                continue;
            }
            assert_eq!(per_node.len(), nodes, "{scenario:#}");
            let delivered: u64 = per_node
                .iter()
                .filter_map(|n| n["deliveries"].as_u64())
                .sum();
            assert!(
                delivered >= scenario["arrived"].as_u64().unwrap_or(u64::MAX),
                "{scenario:#}"
            );
        }
    }
}
