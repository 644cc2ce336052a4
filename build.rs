//! Embeds the JavaScript of the runtime's extensions in the binary.
//!
//! deno_core 0.413's `extension!` macro records each extension file by its
//! absolute path and reads it when a runtime is made without a snapshot (it
//! expects embedders to build a snapshot at build time). swharness makes
//! its snapshot at run time, so without this a binary copied away from the
//! source trees it was built from could not start. This script writes
//! `$OUT_DIR/embedded_js.rs`: a table from those absolute paths to the
//! files' text, included at compile time; `engine::embed` swaps each path
//! for its text. Files it cannot find (vendored sources, say) are left to
//! be read from disk as before.

use std::path::{Path, PathBuf};

/// The crates whose extensions swharness loads, besides its own `js/`.
const EXTENSION_CRATES: &[&str] = &["deno_webidl", "deno_web", "deno_crypto", "deno_fetch"];

fn main() {
  let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
  println!("cargo:rerun-if-changed=build.rs");
  println!("cargo:rerun-if-changed=Cargo.lock");
  println!("cargo:rerun-if-changed=js");
  let mut roots = vec![manifest.join("js")];
  let lock = std::fs::read_to_string(manifest.join("Cargo.lock")).unwrap_or_default();
  for name in EXTENSION_CRATES {
    match locked_version(&lock, name).and_then(|v| registry_dir(name, &v)) {
      Some(dir) => roots.push(dir),
      None => println!("cargo:warning={name}: sources not found in the cargo registry; its JavaScript is read from disk at run time"),
    }
  }
  let mut files = Vec::new();
  for root in &roots {
    collect(root, &mut files);
  }
  files.sort();
  let mut out = String::from(
    "/// Extension JavaScript by the absolute path deno_core records (build.rs).\n\
     pub(crate) static EMBEDDED_JS: &[(&str, deno_core::FastStaticString)] = &[\n",
  );
  for f in &files {
    let path = f.to_str().expect("UTF-8 path");
    out.push_str(&format!(
      "  ({path:?}, deno_core::ascii_str_include!({path:?})),\n"
    ));
  }
  out.push_str("];\n");
  let dest = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("embedded_js.rs");
  std::fs::write(dest, out).unwrap();
}

/// `version` of `name` in Cargo.lock (the first, if several).
fn locked_version(lock: &str, name: &str) -> Option<String> {
  let mut lines = lock.lines();
  while let Some(line) = lines.next() {
    if line.trim() == format!("name = \"{name}\"") {
      let v = lines.next()?.trim().strip_prefix("version = \"")?;
      return Some(v.trim_end_matches('"').to_string());
    }
  }
  None
}

/// `$CARGO_HOME/registry/src/*/NAME-VERSION`.
fn registry_dir(name: &str, version: &str) -> Option<PathBuf> {
  let home = std::env::var_os("CARGO_HOME")
    .map(PathBuf::from)
    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
  let src = home.join("registry").join("src");
  std::fs::read_dir(&src)
    .ok()?
    .flatten()
    .map(|index| index.path().join(format!("{name}-{version}")))
    .find(|dir| dir.is_dir())
}

/// Every 7-bit ASCII `.js`/`.mjs` file below `dir` (deno_core requires
/// extension sources to be ASCII; others cannot be extension files).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
  let Ok(entries) = std::fs::read_dir(dir) else {
    return;
  };
  for entry in entries.flatten() {
    let path = entry.path();
    if path.is_dir() {
      collect(&path, out);
    } else if path.extension().is_some_and(|e| e == "js" || e == "mjs")
      && std::fs::read(&path).is_ok_and(|b| b.is_ascii())
    {
      out.push(path);
    }
  }
}
