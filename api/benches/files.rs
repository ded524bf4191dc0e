//! Files in and out (run with `cargo bench -p api --bench files`; figures go to
//! docs/import.md).
//!
//! Starts the real `crm` binary on a fresh embedded database with the demo organisation
//! (on PostgreSQL with `BENCH_DATABASE_URL` or `TEST_DATABASE_URL`), then as the demo admin:
//! imports `BENCH_ROWS` (10,000) companies and then as many deals naming those companies by
//! name (`ALL_OR_NOTHING`, one GraphQL multipart request each), and exports 1,000 deals
//! `BENCH_EXPORTS` (5) times, downloading each file. Prints rows per second, the server's
//! CPU milliseconds (and PostgreSQL's) per 1,000 rows, its peak resident memory (`VmHWM`)
//! before and after each phase, and the export times.

#[path = "../tests/support/server.rs"]
mod server;

use std::time::{Duration, Instant};

use serde_json::json;
use server::{Client, Server, env_or, login, postgres_cpu_ms};

const PASSWORD: &str = "demo-password-2026";
const IMPORT: &str = "mutation($kind: RecordKind!, $file: Upload!, $mode: ImportMode) {
  importCsv(kind: $kind, file: $file, mode: $mode) { rows created failed committed errors { row field message } }
}";

fn companies_csv(rows: u64) -> String {
    let industries = [
        "Technology",
        "Healthcare",
        "Finance",
        "Retail",
        "Manufacturing",
    ];
    let sizes = ["1-10", "11-50", "51-200", "201-1000", "1000+"];
    let mut csv = String::from("name,domain,industry,size,city,country,phone,website\n");
    for i in 0..rows {
        let n = i as usize;
        csv.push_str(&format!(
            "Bench Company {i},bench-{i}.example,{},{},\"Springfield, Ohio\",US,+1555{:07},bench-{i}.example\n",
            industries[n % industries.len()],
            sizes[n % sizes.len()],
            i
        ));
    }
    csv
}

fn deals_csv(rows: u64, companies: u64) -> String {
    let stages = ["Prospecting", "Qualification", "Proposal", "Negotiation"];
    let mut csv = String::from("title,company,amount,stage,expected_close_date,priority,notes\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "Bench deal {i},Bench Company {},{}.50,{},2031-{:02}-15,High,\"Imported, line {i}\"\n",
            i % companies,
            1000 + i * 7,
            stages[i as usize % stages.len()],
            1 + i % 12
        ));
    }
    csv
}

/// Peak and current resident memory of the server, in MiB.
fn memory(server: &Server) -> String {
    format!(
        "peak {:.0} MiB, now {:.0} MiB",
        server.status_kib("VmHWM") as f64 / 1024.0,
        server.status_kib("VmRSS") as f64 / 1024.0
    )
}

async fn import(server: &Server, token: &str, kind: &str, csv: &str, rows: u64) {
    let mut client = Client::connect(server.addr).await.expect("connect");
    let (cpu0, db0) = (server.cpu_ms(), postgres_cpu_ms());
    let started = Instant::now();
    let (status, body) = client
        .graphql_file(
            token,
            IMPORT,
            json!({"kind": kind, "mode": "ALL_OR_NOTHING"}),
            "bench.csv",
            csv.as_bytes(),
        )
        .await
        .expect("import request");
    let elapsed = started.elapsed();
    let (cpu, db) = (server.cpu_ms() - cpu0, postgres_cpu_ms() - db0);
    let report = &body["data"]["importCsv"];
    assert_eq!(status, 200, "{body}");
    assert_eq!(report["created"], rows, "{body}");
    let per_thousand = 1000.0 / rows as f64;
    println!(
        "import {kind:<8} {rows} rows, {:.1} MiB: {:.1} s, {:.0} rows/s; CPU per 1,000 rows: server {:.0} ms, database {:.0} ms; server memory {}",
        csv.len() as f64 / (1024.0 * 1024.0),
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        cpu * per_thousand,
        db * per_thousand,
        memory(server),
    );
}

#[tokio::main]
async fn main() {
    let rows = env_or("BENCH_ROWS", 10_000);
    let exports = env_or("BENCH_EXPORTS", 5);
    let server = Server::start(&[
        ("RUST_LOG", "warn"),
        ("CRM_DEFAULT_AUTOMATIONS", "false"),
        ("CRM_IMPORT_MAX_ROWS", &rows.max(10_000).to_string()),
        ("CRM_IMPORT_MAX_BYTES", &(64 * 1024 * 1024).to_string()),
        ("CRM_EXPORT_MAX_PER_DAY", &(exports + 1).to_string()),
    ])
    .await;
    let backend = if server.database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "files bench on {backend}; server memory at start: {}",
        memory(&server)
    );
    let token = login(server.addr, "admin@demo.crm", PASSWORD).await;
    import(&server, &token, "COMPANY", &companies_csv(rows), rows).await;
    import(&server, &token, "DEAL", &deals_csv(rows, rows), rows).await;

    let mut times: Vec<Duration> = Vec::new();
    let (cpu0, db0) = (server.cpu_ms(), postgres_cpu_ms());
    let mut client = Client::connect(server.addr).await.expect("connect");
    let mut size = 0;
    for _ in 0..exports {
        let started = Instant::now();
        let (_, body) = client
            .graphql(
                Some(&token),
                "mutation { exportDeals { rowCount downloadUrl } }",
                json!({}),
            )
            .await
            .expect("export");
        let export = &body["data"]["exportDeals"];
        assert_eq!(export["rowCount"], 1000, "{body}");
        let url = export["downloadUrl"].as_str().expect("url").to_owned();
        let mut download = Client::connect(server.addr).await.expect("connect");
        let (status, bytes) = download_with(&mut download, &url, &token).await;
        assert_eq!(status, 200);
        size = bytes.len();
        times.push(started.elapsed());
    }
    times.sort();
    let (cpu, db) = (server.cpu_ms() - cpu0, postgres_cpu_ms() - db0);
    println!(
        "export DEAL 1,000 rows ({:.0} KiB): p50 {:.0} ms, max {:.0} ms over {exports}; CPU per export: server {:.0} ms, database {:.0} ms; server memory {}",
        size as f64 / 1024.0,
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        cpu / exports as f64,
        db / exports as f64,
        memory(&server),
    );
}

/// `GET url` with the bearer token, over a raw connection.
async fn download_with(client: &mut Client, url: &str, token: &str) -> (u16, Vec<u8>) {
    client.get_with_token(url, token).await.expect("download")
}
