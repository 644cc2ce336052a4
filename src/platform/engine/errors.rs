//! Formats script errors the way a browser console does.

use deno_core::error::{CoreError, CoreErrorKind, JsError};

/// `Uncaught TypeError: boom` followed by the stack's frames.
pub fn format_js_error(e: &JsError) -> String {
  let mut out = String::new();
  let name = e.name.clone().unwrap_or_else(|| "Error".into());
  let message = e.message.clone().unwrap_or_default();
  let head = if message.is_empty() {
    name
  } else {
    format!("{name}: {message}")
  };
  out.push_str(&head);
  if let Some(src) = &e.source_line {
    if !src.trim().is_empty() && e.frames.is_empty() {
      out.push_str(&format!("\n    {}", src.trim_end()));
    }
  }
  for frame in &e.frames {
    let file = frame
      .file_name
      .clone()
      .unwrap_or_else(|| "<anonymous>".into());
    let loc = match (frame.line_number, frame.column_number) {
      (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
      (Some(l), None) => format!("{file}:{l}"),
      _ => file,
    };
    match &frame.function_name {
      Some(f) if !f.is_empty() => out.push_str(&format!("\n    at {f} ({loc})")),
      _ => out.push_str(&format!("\n    at {loc}")),
    }
  }
  if e.frames.is_empty() {
    if let Some(stack) = &e.stack {
      let rest: Vec<&str> = stack.lines().skip(1).collect();
      if !rest.is_empty() {
        out.push('\n');
        out.push_str(&rest.join("\n"));
      }
    }
  }
  out
}

pub fn format_core_error(e: &CoreError) -> String {
  match &*e.0 {
    CoreErrorKind::Js(js) => format_js_error(js),
    other => other.to_string(),
  }
}
