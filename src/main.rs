fn main() -> std::process::ExitCode {
    mxpipe::run()
}
