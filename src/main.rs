fn main() -> std::process::ExitCode {
    aixin::cli::main()
}
