//! `herald bench --quick`: every scenario still runs end to end at tiny size, so the bench
//! cannot rot. It asserts that each scenario completed and that every delivery arrived,
//! never how fast: timings are the benchmark's business, not a test's.

use std::process::Command;

use serde_json::Value;

#[test]
fn every_bench_scenario_completes_at_quick_size() {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["bench", "--quick", "--json", "--deadline", "120"])
        .env_remove("HERALD_TOKEN")
        .env_remove("HERALD_URL")
        .output()
        .expect("run herald bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "herald bench failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert!(
        report["limit"]["requests"].as_u64().unwrap_or(0) > 0,
        "{report:#}"
    );
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
