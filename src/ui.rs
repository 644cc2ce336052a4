//! The simulated download UI: one line per background fetch with its
//! title, bytes, rate and ETA. On a terminal the line is redrawn in place;
//! otherwise a plain line is printed when something changes.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use crate::bgfetch::RegistrationState;
use crate::browser::Browser;

struct Shown {
  started: Instant,
  line: String,
}

static SHOWN: Mutex<Option<HashMap<String, Shown>>> = Mutex::new(None);

fn human(n: u64) -> String {
  let f = n as f64;
  if f >= 1048576.0 {
    format!("{:.1} MiB", f / 1048576.0)
  } else if f >= 1024.0 {
    format!("{:.1} KiB", f / 1024.0)
  } else {
    format!("{n} B")
  }
}

/// Renders the UI's line for a fetch.
pub fn render(st: &RegistrationState, elapsed: f64) -> String {
  let title = if st.title.is_empty() {
    &st.id
  } else {
    &st.title
  };
  let rate = st.downloaded as f64 / elapsed.max(0.001);
  let status = if !st.result.is_empty() {
    if st.failure_reason.is_empty() {
      "done".to_string()
    } else {
      format!("failed: {}", st.failure_reason)
    }
  } else if st.download_total > 0 {
    let pct = (st.downloaded as f64 / st.download_total as f64 * 100.0).min(100.0);
    let eta = if rate > 0.0 {
      format!(
        ", ETA {:.0} s",
        (st.download_total.saturating_sub(st.downloaded)) as f64 / rate
      )
    } else {
      String::new()
    };
    let filled = (pct / 5.0) as usize;
    format!(
      "[{}{}] {pct:.0}%{eta}",
      "#".repeat(filled),
      ".".repeat(20 - filled.min(20))
    )
  } else {
    "downloading".to_string()
  };
  let total = if st.download_total > 0 {
    format!(" / {}", human(st.download_total))
  } else {
    String::new()
  };
  format!(
    "[ui] {title}: {}{total} ({}/s) {status}",
    human(st.downloaded),
    human(rate as u64)
  )
}

pub fn show(browser: &Browser, st: &RegistrationState) {
  if !browser.opts().echo_console {
    return;
  }
  let mut guard = SHOWN.lock().unwrap_or_else(|p| p.into_inner());
  let map = guard.get_or_insert_with(HashMap::new);
  let entry = map.entry(st.uid.clone()).or_insert_with(|| Shown {
    started: Instant::now(),
    line: String::new(),
  });
  let line = render(st, entry.started.elapsed().as_secs_f64());
  let tty = std::io::stdout().is_terminal();
  // Off a terminal, a new line only when the bytes or status change (not
  // for the rate alone).
  let key = if tty {
    line.clone()
  } else {
    let head = line.split(" (").next().unwrap_or("");
    let tail = line.rsplit(") ").next().unwrap_or("");
    format!("{head}{tail}")
  };
  if key == entry.line {
    return;
  }
  entry.line = key;
  let mut out = std::io::stdout().lock();
  if tty {
    let _ = write!(out, "\r\x1b[2K{line}");
    if !st.result.is_empty() {
      let _ = writeln!(out);
    }
  } else {
    let _ = writeln!(out, "{line}");
  }
  let _ = out.flush();
}

/// Whether console output may use colors: stdout is a terminal and
/// `NO_COLOR` is not set.
pub fn console_colors() -> bool {
  std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}
