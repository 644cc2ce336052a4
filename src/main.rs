fn main() {
  std::process::exit(swharness::cli::main());
}
