fn main() {
  swharness::engine::configure_bytecode_cache();
  if let Some(code) = swharness::engine::write_snapshot_if_asked() {
    std::process::exit(code);
  }
  std::process::exit(swharness::cli::main());
}
