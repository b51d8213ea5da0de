/// mimalloc: ingesting many small files spent ~40 % of its time in glibc malloc/free (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mxpipe::run()
}
