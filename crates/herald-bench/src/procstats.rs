//! Peak resident memory and CPU time of a process, read from `/proc/<pid>/status` and
//! `/proc/<pid>/stat` (Linux only; elsewhere the numbers are simply absent).
//!
//! Peak RSS is the kernel's own high-water mark (`VmHWM`), so nothing has to sample the
//! process while it runs: one read just before the process is stopped gives the peak of its
//! whole life, which is why every scenario runs against a fresh `herald serve`.

use serde::Serialize;

/// Clock ticks per second of `utime`/`stime`: `USER_HZ`, 100 on every Linux ABI in use.
const TICKS_PER_SECOND: f64 = 100.0;

/// What one process cost.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProcStats {
    /// Peak resident set size, in MiB.
    pub peak_rss_mb: f64,
    /// User plus system CPU time, in seconds.
    pub cpu_seconds: f64,
}

/// Reads the stats of `pid`, or `None` if `/proc` does not have them.
pub fn read(pid: u32) -> Option<ProcStats> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(ProcStats {
        peak_rss_mb: peak_rss_kib(&status)? as f64 / 1024.0,
        cpu_seconds: cpu_ticks(&stat)? as f64 / TICKS_PER_SECOND,
    })
}

/// `VmHWM:    12345 kB` → 12345.
fn peak_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `utime + stime` (fields 14 and 15). The command name (field 2) may hold spaces, so the
/// fields are counted from the last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // field 3 is the first after ')'
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_command_name() {
        let stat = "42 (my prog) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_ticks(stat), Some(300));
    }

    #[test]
    fn parses_peak_rss() {
        let status = "Name:\therald\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\n";
        assert_eq!(peak_rss_kib(status), Some(2048));
    }

    #[test]
    fn reads_this_process() {
        let stats = read(std::process::id());
        assert!(cfg!(not(target_os = "linux")) || stats.is_some_and(|s| s.peak_rss_mb > 0.0));
    }
}
