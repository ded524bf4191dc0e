//! `crm`: the CRM GraphQL server binary. Everything lives in the library.

use clap::Parser;

/// jemalloc for the whole process: Rust's allocations and, through its unprefixed
/// `malloc`/`free`, the bundled SQLite's too (the driver copies every column of every row
/// through SQLite's allocator). glibc's allocator spent ~25 % of the server's CPU on a page
/// of deals, a quarter of it consolidating free lists; measured side by side (docs/performance.md,
/// session 12): rep page 0.59–0.72 → 0.48–0.54, manager page 1.63–2.63 → 1.31–1.52 ms of CPU
/// per request on SQLite. mimalloc as Rust's allocator only did not beat glibc.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = api::cli::Cli::parse();
    api::cli::init_tracing(cli.config.log_format);
    api::cli::run(cli).await
}
