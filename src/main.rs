fn main() {
  if let Some(code) = swharness::engine::write_snapshot_if_asked() {
    std::process::exit(code);
  }
  std::process::exit(swharness::cli::main());
}
