//! `crm`: the CRM GraphQL server binary. Everything lives in the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = api::cli::Cli::parse();
    api::cli::init_tracing(cli.config.log_format);
    api::cli::run(cli).await
}
