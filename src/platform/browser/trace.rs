//! `--trace FILE`: one JSON object per line for every lifecycle change,
//! event dispatch, message and UI action, stamped with milliseconds since
//! start on a monotonic clock.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};

pub struct Trace {
  start: Instant,
  out: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
}

impl Trace {
  pub fn disabled() -> Self {
    Trace {
      start: Instant::now(),
      out: None,
    }
  }

  pub fn to_file(path: &std::path::Path) -> std::io::Result<Self> {
    let file = std::fs::File::create(path)?;
    Ok(Trace {
      start: Instant::now(),
      out: Some(Mutex::new(std::io::BufWriter::new(file))),
    })
  }

  /// Records `{"t": ms, "kind": kind, ...fields}`.
  pub fn record(&self, kind: &str, fields: Value) {
    let Some(out) = &self.out else { return };
    let mut obj = json!({
      "t": (self.start.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
      "kind": kind,
    });
    if let (Some(map), Value::Object(extra)) = (obj.as_object_mut(), fields) {
      map.extend(extra);
    }
    if let Ok(mut w) = out.lock() {
      let _ = writeln!(w, "{obj}");
      let _ = w.flush();
    }
  }

  pub fn enabled(&self) -> bool {
    self.out.is_some()
  }
}
