//! Load from outside (loopback only, bounded): the real `crm` binary under 250 concurrent
//! sign-ins keeps its peak memory bounded, because argon2 (19 MiB per check) runs under an
//! allowance sized by `CRM_PASSWORD_HASH_CONCURRENCY`. Before, the same load took 4.9 GB.
//! (Timing figures under abuse are printed by `cargo bench -p api --bench abuse`.)

#[path = "support/server.rs"]
mod server;

use server::{Client, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_fifty_concurrent_sign_ins_keep_peak_memory_under_512_mb() {
    // Every attempt is admitted and checked (no address lockout, no in-flight bound per
    // address) so every one runs argon2: the worst case for memory.
    let mut server = Server::start(&[
        ("CRM_LOGIN_MAX_FAILURES_PER_ADDRESS", "100000"),
        ("CRM_MAX_INFLIGHT_PER_ADDRESS", "1000"),
    ])
    .await;
    let before = server.status_kib("VmHWM");
    let addr = server.addr;
    let mut tasks = Vec::new();
    for i in 0..250 {
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await.expect("connect");
            c.graphql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                serde_json::json!({ "e": format!("nobody{i}@example.com"), "p": "wrong password!!" }),
            )
            .await
            .expect("answer")
        }));
    }
    for t in tasks {
        let (status, json) = t.await.unwrap();
        assert_eq!(status, 200, "{json}");
        let code = json["errors"][0]["extensions"]["code"].as_str();
        assert!(
            matches!(code, Some("UNAUTHENTICATED" | "RATE_LIMITED")),
            "{json}"
        );
    }
    let peak = server.status_kib("VmHWM");
    let now = server.status_kib("VmRSS");
    eprintln!(
        "250 concurrent sign-ins: peak RSS {} MiB (before {} MiB), RSS after {} MiB",
        peak / 1024,
        before / 1024,
        now / 1024
    );
    assert!(server.alive(), "the server survived");
    assert!(
        peak < 512 * 1024,
        "peak RSS {} MiB, the bound is 512 MiB",
        peak / 1024
    );
}
