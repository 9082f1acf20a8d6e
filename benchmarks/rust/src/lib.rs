//! Shared helpers of the natsbridge benchmarks: timing, memory readings and
//! result tables. Each benchmark measures natsbridge and the raw peer it is
//! compared with in the same run, on the same servers, and prints the ratio.

use std::time::Duration;

/// Peak resident set size of this process so far (`VmHWM`), in bytes.
pub fn peak_rss() -> u64 {
    proc_status_kb("VmHWM:") * 1024
}

/// Current resident set size of this process (`VmRSS`), in bytes.
pub fn current_rss() -> u64 {
    proc_status_kb("VmRSS:") * 1024
}

/// Resets the peak RSS to the current RSS (Linux `clear_refs` value 5), so a
/// phase's peak can be measured on its own.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

/// Megabytes (10^6 bytes) per second.
pub fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

/// `value` in MB with one decimal.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The median of some measurements.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// What this process has used so far: CPU time summed over its threads
/// (`/proc/self/task/*/schedstat`, in ns) and write system calls
/// (`syscw` of `/proc/self/io`, every thread). Read before and after a
/// phase whose threads live throughout (a runtime's workers), the
/// difference is the phase's cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessUse {
    /// CPU time of every thread, in ns.
    pub cpu_ns: u64,
    /// Write system calls (`write`, `writev`, ...).
    pub writes: u64,
    /// Context switches of every thread, voluntary and not (a thread that
    /// parks and is woken again counts one).
    pub switches: u64,
}

impl ProcessUse {
    /// The counters now (zero where `/proc` cannot be read).
    pub fn now() -> Self {
        let (mut cpu_ns, mut switches) = (0, 0);
        for task in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            // schedstat: time on CPU (ns), time waiting to run, time slices.
            if let Some(ns) = std::fs::read_to_string(task.path().join("schedstat"))
                .ok()
                .and_then(|line| line.split_whitespace().next()?.parse::<u64>().ok())
            {
                cpu_ns += ns;
            }
            if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
                switches += status
                    .lines()
                    .filter(|line| line.contains("ctxt_switches:"))
                    .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .sum::<u64>();
            }
        }
        let writes = std::fs::read_to_string("/proc/self/io")
            .ok()
            .and_then(|io| {
                io.lines()
                    .find_map(|line| line.strip_prefix("syscw:"))
                    .and_then(|value| value.trim().parse().ok())
            })
            .unwrap_or(0);
        Self {
            cpu_ns,
            writes,
            switches,
        }
    }

    /// Per message since `earlier`: CPU in us, write system calls, context switches.
    pub fn per_message_since(&self, earlier: &Self, messages: usize) -> [f64; 3] {
        let n = messages.max(1) as f64;
        [
            self.cpu_ns.saturating_sub(earlier.cpu_ns) as f64 / 1e3 / n,
            self.writes.saturating_sub(earlier.writes) as f64 / n,
            self.switches.saturating_sub(earlier.switches) as f64 / n,
        ]
    }
}
