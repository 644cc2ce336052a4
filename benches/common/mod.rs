//! What both benchmarks print about the machine they ran on.

/// "N cores; load A B C" (the 1, 5 and 15 minute load averages).
pub fn machine() -> String {
  format!(
    "{} cores; load {}",
    std::thread::available_parallelism().map_or(0, |n| n.get()),
    std::fs::read_to_string("/proc/loadavg")
      .unwrap_or_default()
      .split_whitespace()
      .take(3)
      .collect::<Vec<_>>()
      .join(" ")
  )
}
