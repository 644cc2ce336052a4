//! Rules the sources keep: the JavaScript the engine loads (and the files
//! the WPT runner serves in place of WPT's) is 7-bit ASCII, which
//! deno_core's extension loader requires of extension sources.

use std::path::Path;

fn js_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
  for entry in std::fs::read_dir(dir).unwrap() {
    let path = entry.unwrap().path();
    if path.is_dir() {
      js_files(&path, out);
    } else if path.extension().is_some_and(|e| e == "js") {
      out.push(path);
    }
  }
}

#[test]
fn javascript_sources_are_ascii() {
  let root = Path::new(env!("CARGO_MANIFEST_DIR"));
  let mut files = Vec::new();
  for dir in ["js", "wpt/support", "wpt/tests"] {
    js_files(&root.join(dir), &mut files);
  }
  assert!(files.len() > 20, "found only {files:?}");
  let bad: Vec<String> = files
    .iter()
    .filter(|p| !std::fs::read(p).unwrap().is_ascii())
    .map(|p| p.display().to_string())
    .collect();
  assert!(bad.is_empty(), "not 7-bit ASCII: {bad:?}");
}
