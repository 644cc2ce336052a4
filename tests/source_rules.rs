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

/// The groups of `src/`, by concern: the platform every feature stands
/// on, the features, and the programs a user runs.
const GROUPS: &[&str] = &["platform", "features", "app"];

/// The layers of `src/`: each module of a group (`group::module`; the
/// features' own list is `features`) and the modules it may use.
/// Dependencies point one way, from features down to the platform (see
/// ARCHITECTURE.md); a new module must be placed here.
const LAYERS: &[(&str, &[&str])] = &[
  ("platform::ipc", &[]),
  ("platform::net", &["platform::ipc"]),
  ("platform::engine", &["platform::ipc", "platform::net"]),
  (
    "platform::browser",
    &["platform::ipc", "platform::net", "platform::engine"],
  ),
  (
    "features::storage",
    &["platform::ipc", "platform::net", "platform::browser"],
  ),
  (
    "features::service_worker",
    &[
      "platform::ipc",
      "platform::net",
      "platform::engine",
      "platform::browser",
      "features::storage",
    ],
  ),
  (
    "features::background_fetch",
    &[
      "platform::ipc",
      "platform::net",
      "platform::engine",
      "platform::browser",
      "features::storage",
      "features::service_worker",
    ],
  ),
  (
    "features::broadcast_channel",
    &["platform::ipc", "platform::browser"],
  ),
  (
    "features::indexed_db",
    &["platform::ipc", "platform::browser"],
  ),
  (
    "features::workers",
    &[
      "platform::ipc",
      "platform::net",
      "platform::engine",
      "platform::browser",
      "features::service_worker",
    ],
  ),
  (
    "features::xhr",
    &["platform::ipc", "platform::net", "platform::browser"],
  ),
  (
    "features",
    &[
      "platform::browser",
      "features::storage",
      "features::service_worker",
      "features::background_fetch",
      "features::broadcast_channel",
      "features::indexed_db",
      "features::workers",
      "features::xhr",
    ],
  ),
  // `*`: every module listed before it.
  ("app::wpt", &["*"]),
  ("app::cli", &["*"]),
];

/// The Rust files of the module `name` (`group::module`, a folder; the
/// features' list is `features/mod.rs` alone).
fn module_files(src: &Path, name: &str) -> Vec<std::path::PathBuf> {
  let mut files = Vec::new();
  if name == "features" {
    files.push(src.join("features/mod.rs"));
    return files;
  }
  let dir = src.join(name.replace("::", "/"));
  if dir.is_dir() {
    rs_files(&dir, &mut files);
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

/// The modules a Rust source names through `crate::` paths
/// (`crate::a::b`, `crate::{a, b::c}`), comments left out: a group's module
/// as `group::module` (`crate::features::xhr::Xhr` is `features::xhr`).
fn crate_uses(source: &str) -> Vec<String> {
  let code: String = source
    .lines()
    .map(|l| match l.find("//") {
      Some(i) => &l[..i],
      None => l,
    })
    .collect::<Vec<_>>()
    .join("\n");
  let word = |s: &str| -> String {
    s.chars()
      .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
      .collect()
  };
  let ident = |s: &str| -> String {
    let first = word(s);
    if !GROUPS.contains(&first.as_str()) {
      return first;
    }
    match s[first.len()..].strip_prefix("::") {
      Some(rest) => {
        let path = format!("{first}::{}", word(rest));
        if LAYERS.iter().any(|(n, _)| *n == path) {
          path
        } else {
          first
        }
      }
      None => first,
    }
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
  let src = "use crate::platform::ipc::HostError;\nuse crate::{platform::net::Net, features};\n// crate::app::cli\nlet x = crate::features::xhr::Xhr;";
  assert_eq!(
    crate_uses(src),
    [
      "platform::ipc",
      "platform::net",
      "features",
      "features::xhr"
    ]
  );
}

#[test]
fn modules_import_only_down_the_layers() {
  let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
  // Every module of every group is placed in the layers, and nothing
  // stands outside the groups.
  let mut unplaced = Vec::new();
  for entry in std::fs::read_dir(&src).unwrap() {
    let path = entry.unwrap().path();
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    if name == "lib" || name == "main" {
      continue;
    }
    if !GROUPS.contains(&name.as_str()) {
      unplaced.push(name);
      continue;
    }
    for inner in std::fs::read_dir(&path).unwrap() {
      let inner = inner.unwrap().path();
      let module = inner.file_stem().unwrap().to_string_lossy().to_string();
      let full = format!("{name}::{module}");
      if module != "mod" && !LAYERS.iter().any(|(n, _)| *n == full) {
        unplaced.push(full);
      }
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
/// module behind it (in one of the groups), so a class and its browser side are found by one
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
    } else if name != "scopes"
      && name != "shims"
      && !GROUPS
        .iter()
        .any(|g| root.join("src").join(g).join(&name).is_dir())
    {
      orphans.push(format!("js/{name} (no src/<group>/{name}/)"));
    }
  }
  assert!(orphans.is_empty(), "{orphans:?}");
}
