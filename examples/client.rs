//! A command-line tour of the CRM GraphQL API: signs in as a demo user and runs every
//! document in `examples/graphql/` against a running server, printing what came back.
//!
//! ```text
//! cargo run -p api                      # in another terminal: serves and seeds the demo
//! cargo run --example client
//! CRM_URL=http://127.0.0.1:8077/graphql CRM_EMAIL=east.manager@demo.crm cargo run --example client
//! CRM_VERBOSE=1 cargo run --example client   # also print each response's data
//! ```
//!
//! Environment: `CRM_URL` (default `http://127.0.0.1:8000/graphql`), `CRM_EMAIL` (default
//! `east.rep1@demo.crm`), `CRM_PASSWORD` (default `demo-password-2026`, the demo password).
//! The request flow lives in `client/flow.rs`, shared with the integration tests.

#[path = "client/flow.rs"]
mod flow;
#[path = "client/http.rs"]
mod http;

use http::{DEFAULT_URL, Http};

const DEFAULT_EMAIL: &str = "east.rep1@demo.crm";
const DEFAULT_PASSWORD: &str = "demo-password-2026";

#[tokio::main]
async fn main() {
    let url = env_or("CRM_URL", DEFAULT_URL);
    let email = env_or("CRM_EMAIL", DEFAULT_EMAIL);
    let password = env_or("CRM_PASSWORD", DEFAULT_PASSWORD);
    let verbose = std::env::var_os("CRM_VERBOSE").is_some_and(|v| !v.is_empty() && v != "0");

    let transport = match Http::new(&url) {
        Ok(t) => t,
        Err(err) => fail(&format!("{err:#}")),
    };
    println!(
        "CRM at {url}, signing in as {email}; running {} documents from examples/graphql/\n",
        flow::DOCUMENTS.len()
    );
    let mut print = |step: flow::Step| {
        println!("{:<26} {}", step.document, step.summary);
        if verbose {
            println!(
                "{}\n",
                serde_json::to_string_pretty(&step.data).unwrap_or_default()
            );
        }
    };
    if let Err(err) = flow::run(&transport, &email, &password, &mut print).await {
        fail(&format!("{err:#}"));
    }
    println!("\ndone.");
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn fail(message: &str) -> ! {
    eprintln!("client: {message}");
    std::process::exit(1);
}
