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

/// The layers of `src/`: each top-level module and the top-level modules
/// it may use. Dependencies point one way, from features down to the core
/// (see ARCHITECTURE.md); a new top-level module must be placed here.
const LAYERS: &[(&str, &[&str])] = &[
  ("ipc", &[]),
  ("net", &["ipc"]),
  ("engine", &["ipc", "net"]),
  ("browser", &["ipc", "net", "engine"]),
  ("storage", &["ipc", "net", "browser"]),
  (
    "service_worker",
    &["ipc", "net", "engine", "browser", "storage"],
  ),
  (
    "background_fetch",
    &[
      "ipc",
      "net",
      "engine",
      "browser",
      "storage",
      "service_worker",
    ],
  ),
  ("broadcast_channel", &["ipc", "browser"]),
  ("indexed_db", &["ipc", "browser"]),
  (
    "workers",
    &["ipc", "net", "engine", "browser", "service_worker"],
  ),
  ("xhr", &["ipc", "net", "browser"]),
  (
    "features",
    &[
      "browser",
      "storage",
      "service_worker",
      "background_fetch",
      "broadcast_channel",
      "indexed_db",
      "workers",
      "xhr",
    ],
  ),
  // `*`: every module listed before it.
  ("wpt", &["*"]),
  ("cli", &["*"]),
];

/// The Rust files of the top-level module `name` (a folder or a file).
fn module_files(src: &Path, name: &str) -> Vec<std::path::PathBuf> {
  let mut files = Vec::new();
  let dir = src.join(name);
  if dir.is_dir() {
    rs_files(&dir, &mut files);
  }
  let file = src.join(format!("{name}.rs"));
  if file.is_file() {
    files.push(file);
  }
  files
}

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
  for entry in std::fs::read_dir(dir).unwrap() {
    let path = entry.unwrap().path();
    if path.is_dir() {
      rs_files(&path, out);
    } else if path.extension().is_some_and(|e| e == "rs") {
      out.push(path);
    }
  }
}

/// The top-level modules a Rust source names through `crate::` paths
/// (`crate::a::b`, `crate::{a, b::c}`), comments left out.
fn crate_uses(source: &str) -> Vec<String> {
  let code: String = source
    .lines()
    .map(|l| match l.find("//") {
      Some(i) => &l[..i],
      None => l,
    })
    .collect::<Vec<_>>()
    .join("\n");
  let ident = |s: &str| -> String {
    s.chars()
      .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
      .collect()
  };
  let mut out = Vec::new();
  let mut rest = code.as_str();
  while let Some(i) = rest.find("crate::") {
    rest = &rest[i + "crate::".len()..];
    if let Some(group) = rest.strip_prefix('{') {
      // Top-level names in the braces: after `{` and after each `,` at
      // depth one.
      let mut depth = 1;
      let mut start = true;
      for (j, c) in group.char_indices() {
        match c {
          '{' => depth += 1,
          '}' => {
            depth -= 1;
            if depth == 0 {
              break;
            }
          }
          ',' if depth == 1 => start = true,
          c if c.is_whitespace() => {}
          _ if start && depth == 1 => {
            out.push(ident(&group[j..]));
            start = false;
          }
          _ => {}
        }
      }
    } else {
      out.push(ident(rest));
    }
  }
  out.retain(|n| !n.is_empty() && n != "self");
  out
}

#[test]
fn crate_uses_finds_paths_and_groups() {
  let src = "use crate::ipc::HostError;\nuse crate::{net::Net, browser};\n// crate::cli\nlet x = crate::engine::new();";
  assert_eq!(crate_uses(src), ["ipc", "net", "browser", "engine"]);
}

#[test]
fn modules_import_only_down_the_layers() {
  let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
  // Every top-level module is placed in the layers.
  let mut unplaced = Vec::new();
  for entry in std::fs::read_dir(&src).unwrap() {
    let path = entry.unwrap().path();
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let is_module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
    if is_module && name != "lib" && name != "main" && !LAYERS.iter().any(|(n, _)| *n == name) {
      unplaced.push(name);
    }
  }
  assert!(unplaced.is_empty(), "not in LAYERS: {unplaced:?}");
  // The layers themselves have no circle: each uses only those listed
  // before it.
  for (i, (name, uses)) in LAYERS.iter().enumerate() {
    for u in *uses {
      let below = *u == "*" || LAYERS[..i].iter().any(|(n, _)| n == u);
      assert!(below, "{name} may use {u}, which is not below it");
    }
  }
  let mut bad = Vec::new();
  for (i, (name, uses)) in LAYERS.iter().enumerate() {
    let below: Vec<&str> = LAYERS[..i].iter().map(|(n, _)| *n).collect();
    let allowed = |m: &str| uses.contains(&m) || (uses.contains(&"*") && below.contains(&m));
    for file in module_files(&src, name) {
      let source = std::fs::read_to_string(&file).unwrap();
      for used in crate_uses(&source) {
        if used != *name && !allowed(&used) {
          bad.push(format!("{} uses crate::{used}", file.display()));
        }
      }
    }
  }
  assert!(
    bad.is_empty(),
    "imports across the layers:\n{}",
    bad.join("\n")
  );
}

#[test]
fn source_files_stay_small() {
  let root = Path::new(env!("CARGO_MANIFEST_DIR"));
  let mut files = Vec::new();
  rs_files(&root.join("src"), &mut files);
  js_files(&root.join("js"), &mut files);
  let big: Vec<String> = files
    .iter()
    .filter_map(|p| {
      let lines = std::fs::read_to_string(p).unwrap().lines().count();
      (lines > 700).then(|| format!("{} ({lines} lines)", p.display()))
    })
    .collect();
  assert!(big.is_empty(), "split these by what they hold: {big:?}");
}

/// `js/` mirrors `src/`: each folder of JavaScript is named for the Rust
/// module behind it, so a class and its browser side are found by one
/// name. Two folders have no Rust twin: `scopes/` assembles the global
/// scopes (booted by `engine::realm`) and `shims/` stands in for a Deno
/// extension we do not load.
#[test]
fn javascript_folders_mirror_the_rust_modules() {
  let root = Path::new(env!("CARGO_MANIFEST_DIR"));
  let mut orphans = Vec::new();
  for entry in std::fs::read_dir(root.join("js")).unwrap() {
    let path = entry.unwrap().path();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    if !path.is_dir() {
      orphans.push(format!("{name} (a file directly in js/)"));
    } else if name != "scopes" && name != "shims" && !root.join("src").join(&name).is_dir() {
      orphans.push(format!("js/{name} (no src/{name}/)"));
    }
  }
  assert!(orphans.is_empty(), "{orphans:?}");
}
