//! A small, forgiving scan of an HTML test: `<script>` elements in order,
//! `<meta name=timeout content=long>` and `<title>`. Not an HTML parser.

use super::manifest::ScriptStep;

pub(super) struct HtmlScan {
  pub scripts: Vec<ScriptStep>,
  pub timeout_long: bool,
  pub title: Option<String>,
}

pub(super) fn scan_html(src: &str) -> HtmlScan {
  let lower = src.to_ascii_lowercase();
  let mut out = HtmlScan {
    scripts: Vec::new(),
    timeout_long: false,
    title: None,
  };
  let mut i = 0;
  while let Some(off) = lower[i..].find('<') {
    let start = i + off;
    if lower[start..].starts_with("<!--") {
      i = lower[start..]
        .find("-->")
        .map(|e| start + e + 3)
        .unwrap_or(lower.len());
      continue;
    }
    let Some(tag_end) = tag_end(&lower, start) else {
      break;
    };
    let tag = &src[start..tag_end];
    let tag_lower = &lower[start..tag_end];
    i = tag_end;
    if tag_lower.starts_with("<script") && is_tag_boundary(tag_lower, 7) {
      let close = lower[tag_end..]
        .find("</script")
        .map(|e| tag_end + e)
        .unwrap_or(lower.len());
      let attrs = parse_attrs(tag);
      let ty = attrs
        .iter()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v.to_ascii_lowercase());
      let runnable = matches!(
        ty.as_deref(),
        None | Some("") | Some("text/javascript") | Some("application/javascript")
      );
      if runnable {
        if let Some((_, srcv)) = attrs.iter().find(|(k, _)| k == "src") {
          out.scripts.push(ScriptStep::Url(srcv.clone()));
        } else {
          let body = &src[tag_end..close];
          if !body.trim().is_empty() {
            out.scripts.push(ScriptStep::Inline(body.to_string()));
          }
        }
      }
      i = close;
    } else if tag_lower.starts_with("<meta") && is_tag_boundary(tag_lower, 5) {
      let attrs = parse_attrs(tag);
      let get = |n: &str| attrs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
      if get("name") == Some("timeout") && get("content") == Some("long") {
        out.timeout_long = true;
      }
    } else if tag_lower.starts_with("<title") && is_tag_boundary(tag_lower, 6) {
      let close = lower[tag_end..]
        .find("</title")
        .map(|e| tag_end + e)
        .unwrap_or(lower.len());
      if out.title.is_none() {
        out.title = Some(src[tag_end..close].trim().to_string());
      }
      i = close;
    }
  }
  out
}

fn is_tag_boundary(tag: &str, at: usize) -> bool {
  tag[at..]
    .chars()
    .next()
    .is_none_or(|c| c.is_ascii_whitespace() || c == '>' || c == '/')
}

/// Index just past the `>` closing a tag starting at `start` (quote-aware).
fn tag_end(s: &str, start: usize) -> Option<usize> {
  let mut quote: Option<char> = None;
  for (off, c) in s[start..].char_indices() {
    match quote {
      Some(q) if c == q => quote = None,
      Some(_) => {}
      None if c == '"' || c == '\'' => quote = Some(c),
      None if c == '>' => return Some(start + off + 1),
      None => {}
    }
  }
  None
}

fn parse_attrs(tag: &str) -> Vec<(String, String)> {
  let inner = tag
    .trim_start_matches('<')
    .trim_end_matches('>')
    .trim_end_matches('/');
  let mut chars = inner.char_indices().peekable();
  // Skip the tag name.
  while let Some((_, c)) = chars.peek() {
    if c.is_ascii_whitespace() {
      break;
    }
    chars.next();
  }
  let mut out = Vec::new();
  loop {
    while chars.peek().is_some_and(|(_, c)| c.is_ascii_whitespace()) {
      chars.next();
    }
    let Some(&(ks, _)) = chars.peek() else { break };
    let mut ke = ks;
    while let Some(&(j, c)) = chars.peek() {
      if c == '=' || c.is_ascii_whitespace() {
        break;
      }
      ke = j + c.len_utf8();
      chars.next();
    }
    let key = inner[ks..ke].to_ascii_lowercase();
    while chars.peek().is_some_and(|(_, c)| c.is_ascii_whitespace()) {
      chars.next();
    }
    let mut value = String::new();
    if chars.peek().is_some_and(|(_, c)| *c == '=') {
      chars.next();
      while chars.peek().is_some_and(|(_, c)| c.is_ascii_whitespace()) {
        chars.next();
      }
      match chars.peek().map(|&(_, c)| c) {
        Some(q @ ('"' | '\'')) => {
          chars.next();
          for (_, c) in chars.by_ref() {
            if c == q {
              break;
            }
            value.push(c);
          }
        }
        _ => {
          while let Some(&(_, c)) = chars.peek() {
            if c.is_ascii_whitespace() {
              break;
            }
            value.push(c);
            chars.next();
          }
        }
      }
    }
    if key.is_empty() {
      chars.next();
      continue;
    }
    out.push((key, html_unescape(&value)));
  }
  out
}

fn html_unescape(s: &str) -> String {
  s.replace("&quot;", "\"")
    .replace("&#39;", "'")
    .replace("&lt;", "<")
    .replace("&gt;", ">")
    .replace("&amp;", "&")
}
