fn main() {
  swharness::platform::engine::configure_bytecode_cache();
  if let Some(code) = swharness::platform::engine::write_snapshot_if_asked() {
    std::process::exit(code);
  }
  std::process::exit(swharness::app::cli::main());
}
