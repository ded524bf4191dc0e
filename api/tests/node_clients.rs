//! Real GraphQL clients nobody here wrote, against the real binary on loopback: the
//! `graphql-http` conformance audit, Apollo Client (pagination, mutations, error codes,
//! automatic persisted queries, batching) and graphql-ws (sign-in in `connection_init`).
//! The clients live in `examples/node-client` with a checked-in lockfile (`npm ci`).

#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::process::Command;

use server::Server;

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start it ({e}); Node 20 and npm are needed"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_client_graphql_ws_and_the_graphql_http_audit_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/node-client");
    run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir),
        "npm ci",
    );
    // The offline client compares its copy with a fresh listing: no default automation
    // may add a note behind its back in between.
    let server = Server::start(&[("CRM_DEFAULT_AUTOMATIONS", "false")]).await;
    let output = run(
        Command::new("node")
            .args(["--test", "test/"])
            .env("CRM_GRAPHQL_URL", format!("http://{}/graphql", server.addr))
            .current_dir(&dir),
        "node --test",
    );
    eprintln!("{output}");
    assert!(output.contains("# fail 0"), "{output}");
}
