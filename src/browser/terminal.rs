//! The simulated download UI: one line per background fetch with its
//! title, bytes, rate and ETA. On a terminal the running fetches have one
//! bar each, redrawn in place below the console output (a finished fetch's
//! last line stays above them); otherwise a plain line is printed when
//! something changes.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use crate::background_fetch::RegistrationState;
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
  // Off a terminal, and for a finished fetch, a new line only when the
  // bytes, title or status change (not for the rate alone).
  let key = if tty && st.result.is_empty() {
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
  drop(guard);
  if tty {
    let mut term = TERM.lock().unwrap_or_else(|p| p.into_inner());
    let done = !st.result.is_empty();
    match term.bars.iter().position(|(uid, _)| *uid == st.uid) {
      Some(i) if done => {
        term.bars.remove(i);
      }
      Some(i) => term.bars[i].1 = line.clone(),
      None if !done => term.bars.push((st.uid.clone(), line.clone())),
      None => {}
    }
    let above = if done {
      format!("{line}\n")
    } else {
      String::new()
    };
    term.redraw(&above);
  } else {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
  }
}

/// The bars on the terminal, below everything else printed.
struct Term {
  bars: Vec<(String, String)>,
  /// Lines the bars take on the screen now.
  drawn: usize,
}

static TERM: Mutex<Term> = Mutex::new(Term {
  bars: Vec::new(),
  drawn: 0,
});

impl Term {
  /// Clears the bars, prints `above` (whole lines), and draws the bars
  /// again below it.
  fn redraw(&mut self, above: &str) {
    let text = self.frame(above);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
  }

  /// What [`Term::redraw`] writes.
  fn frame(&mut self, above: &str) -> String {
    let mut text = String::new();
    if self.drawn > 0 {
      text.push_str(&format!("\x1b[{}A\r\x1b[J", self.drawn));
    }
    text.push_str(above);
    for (_, line) in &self.bars {
      text.push_str(line);
      text.push('\n');
    }
    self.drawn = self.bars.len();
    text
  }
}

/// Prints console output to stdout; on a terminal, above the bars.
pub fn print_stdout(text: &str) {
  if std::io::stdout().is_terminal() {
    TERM.lock().unwrap_or_else(|p| p.into_inner()).redraw(text);
  } else {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
  }
}

/// Whether console output may use colors: stdout is a terminal and
/// `NO_COLOR` is not set.
pub fn console_colors() -> bool {
  std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

#[cfg(test)]
mod tests {
  use super::Term;

  #[test]
  fn bars_are_redrawn_below_what_is_printed() {
    let mut t = Term {
      bars: vec![("a".into(), "[ui] a".into()), ("b".into(), "[ui] b".into())],
      drawn: 0,
    };
    assert_eq!(t.frame(""), "[ui] a\n[ui] b\n");
    // Console output goes above: the two bar lines are cleared first.
    assert_eq!(
      t.frame("[sw] hi\n"),
      "\x1b[2A\r\x1b[J[sw] hi\n[ui] a\n[ui] b\n"
    );
    t.bars.remove(0);
    assert_eq!(
      t.frame("[ui] a done\n"),
      "\x1b[2A\r\x1b[J[ui] a done\n[ui] b\n"
    );
    assert_eq!(t.drawn, 1);
  }
}
