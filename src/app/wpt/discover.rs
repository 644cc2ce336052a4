//! Finding the tests under the paths given on the command line, as WPT's
//! manifest does: test files by name, support folders skipped.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::manifest::{candidate, is_support_dir, test_file_from_source, TestFile};

/// Turns a command-line PATH into a `/`-separated path relative to `root`.
/// Accepts root-relative paths (`background-fetch/get.https.window.js`),
/// URL-style paths (`/background-fetch/`), and filesystem paths inside the root.
pub fn relativize(root: &Path, arg: &str) -> Result<String> {
  let as_fs = PathBuf::from(arg);
  if as_fs.is_absolute() || as_fs.exists() {
    if let (Ok(abs), Ok(root_abs)) = (std::fs::canonicalize(&as_fs), std::fs::canonicalize(root)) {
      if let Ok(rel) = abs.strip_prefix(&root_abs) {
        return Ok(path_to_slash(rel));
      }
    }
  }
  let trimmed = arg.trim_start_matches('/');
  let rel = Path::new(trimmed);
  if rel.components().any(|c| matches!(c, Component::ParentDir)) {
    bail!("test path {arg} is outside the WPT root {}", root.display());
  }
  Ok(path_to_slash(rel))
}

fn path_to_slash(p: &Path) -> String {
  p.components()
    .filter_map(|c| match c {
      Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
      _ => None,
    })
    .collect::<Vec<_>>()
    .join("/")
}

/// Finds the tests under `paths` (root-relative; empty = the whole root),
/// sorted by path, without duplicates.
pub fn discover(root: &Path, paths: &[String]) -> Result<Vec<TestFile>> {
  if !root.is_dir() {
    bail!(
      "WPT root {} is not a directory (use --wpt-root or SWHARNESS_WPT_ROOT)",
      root.display()
    );
  }
  let mut rels = BTreeSet::new();
  let args: Vec<String> = if paths.is_empty() {
    vec![String::new()]
  } else {
    paths.to_vec()
  };
  for arg in &args {
    let rel = relativize(root, arg)?;
    let full = if rel.is_empty() {
      root.to_path_buf()
    } else {
      root.join(&rel)
    };
    if full.is_dir() {
      walk(root, &full, &mut rels)?;
    } else if full.is_file() {
      rels.insert(rel);
    } else if let Some(src) = generated_source(root, &rel) {
      rels.insert(src);
    } else {
      bail!(
        "no such test file or directory: {} (under {})",
        arg,
        root.display()
      );
    }
  }
  let mut out = Vec::new();
  for rel in rels {
    let text = std::fs::read(root.join(&rel)).with_context(|| format!("reading {rel}"))?;
    let text = String::from_utf8_lossy(&text);
    if let Some(file) = test_file_from_source(&rel, &text) {
      out.push(file);
    }
  }
  Ok(out)
}

/// Maps a generated page path (`x.any.html`, `x.window.html`, ...) to its source.
fn generated_source(root: &Path, rel: &str) -> Option<String> {
  const MAP: &[(&str, &str)] = &[
    (".any.serviceworker.html", ".any.js"),
    (".any.html", ".any.js"),
    (".window.html", ".window.js"),
  ];
  let rel = rel.split('?').next().unwrap_or(rel);
  for (from, to) in MAP {
    if let Some(stem) = rel.strip_suffix(from) {
      let src = format!("{stem}{to}");
      if root.join(&src).is_file() {
        return Some(src);
      }
    }
  }
  None
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> Result<()> {
  let mut entries: Vec<_> = std::fs::read_dir(dir)
    .with_context(|| format!("reading {}", dir.display()))?
    .filter_map(|e| e.ok())
    .collect();
  entries.sort_by_key(|e| e.file_name());
  for entry in entries {
    let path = entry.path();
    let name = entry.file_name().to_string_lossy().into_owned();
    let ft = entry.file_type()?;
    if ft.is_dir() || (ft.is_symlink() && path.is_dir()) {
      if is_support_dir(&name) || name == "reference" {
        continue;
      }
      walk(root, &path, out)?;
    } else if let Ok(rel) = path.strip_prefix(root) {
      let rel = path_to_slash(rel);
      if candidate(&rel) {
        out.insert(rel);
      }
    }
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn discovery_skips_support_files() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    for (p, body) in [
      ("bf/a.https.window.js", "test(()=>{});"),
      ("bf/b.any.js", "// META: global=window,serviceworker\n"),
      ("bf/resources/utils.js", ""),
      ("bf/resources/x.window.js", ""),
      ("bf/support/y.any.js", ""),
      ("bf/_private.window.js", ""),
      ("bf/helper.js", ""),
      (
        "bf/c.html",
        "<script src=/resources/testharness.js></script>",
      ),
      (
        "bf/c-ref.html",
        "<script src=/resources/testharness.js></script>",
      ),
      ("bf/d-manual.https.window.js", ""),
      ("other/e.window.js", ""),
      ("tools/f.window.js", ""),
    ] {
      let full = r.join(p);
      std::fs::create_dir_all(full.parent().unwrap()).unwrap();
      std::fs::write(full, body).unwrap();
    }
    let all = discover(r, &[]).unwrap();
    let paths: Vec<_> = all.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
      paths,
      vec![
        "bf/a.https.window.js",
        "bf/b.any.js",
        "bf/c.html",
        "other/e.window.js"
      ]
    );
    let some = discover(r, &["bf/".into(), "/bf/b.any.serviceworker.html".into()]).unwrap();
    assert_eq!(some.len(), 3);
    let one = discover(
      r,
      &[r.join("other/e.window.js").to_string_lossy().into_owned()],
    )
    .unwrap();
    assert_eq!(one[0].path, "other/e.window.js");
    assert!(discover(r, &["nope".into()]).is_err());
  }
}
