//! The terminal the run prints to: console output, and status lines (the
//! simulated download UI's) that stay below it as bars redrawn in place
//! on a terminal, or plain lines otherwise.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Shows a status line for `key` (a background fetch, say): on a
/// terminal a bar kept below the console output, redrawn in place, and
/// printed above the bars once `done`; otherwise a plain line.
pub fn show_status(key: &str, line: &str, done: bool) {
  if std::io::stdout().is_terminal() {
    let mut term = TERM.lock().unwrap_or_else(|p| p.into_inner());
    match term.bars.iter().position(|(k, _)| k == key) {
      Some(i) if done => {
        term.bars.remove(i);
      }
      Some(i) => term.bars[i].1 = line.to_string(),
      None if !done => term.bars.push((key.to_string(), line.to_string())),
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

/// Whether stdout is a terminal (status lines are then redrawn in place).
pub fn is_terminal() -> bool {
  std::io::stdout().is_terminal()
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
