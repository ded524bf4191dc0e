//! The real `crm` binary as a child process on a loopback port, over a fresh embedded
//! database (seeded with the demo organisation), with a minimal HTTP/1.1 client: what the
//! load test and the abuse benchmark measure from outside.

#![allow(
    dead_code,
    reason = "shared by a test and a bench that use different parts"
)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A running server; killed, its folder removed and its PostgreSQL database dropped on
/// drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
    /// `DATABASE_URL` of the server.
    pub database_url: String,
    env: Vec<(String, String)>,
}

/// The database the server runs on: a fresh embedded SQLite file, or — when
/// `TEST_DATABASE_URL` (or, for benches, `BENCH_DATABASE_URL`) points at PostgreSQL — a new database there, migrated and seeded
/// with the demo organisation by `crm seed-demo` (the embedded default seeds itself).
fn database(dir: &std::path::Path) -> (String, Option<(String, String)>) {
    // Benches name their PostgreSQL server `BENCH_DATABASE_URL`.
    let url = std::env::var("TEST_DATABASE_URL").or_else(|_| std::env::var("BENCH_DATABASE_URL"));
    match url {
        Ok(admin) if admin.starts_with("postgres") => {
            let name = format!("crm_proc_{}", uuid::Uuid::new_v4().simple());
            psql(&admin, &format!("CREATE DATABASE \"{name}\""));
            let (base, query) = admin.split_once('?').unwrap_or((&admin, ""));
            let host = &base[..base.rfind('/').expect("a database path")];
            let url = if query.is_empty() {
                format!("{host}/{name}")
            } else {
                format!("{host}/{name}?{query}")
            };
            let status = Command::new(env!("CARGO_BIN_EXE_crm"))
                .arg("seed-demo")
                .env("DATABASE_URL", &url)
                .env("CRM_JWT_SECRET", JWT_SECRET)
                .env(
                    "CRM_POLICY_DIR",
                    concat!(env!("CARGO_MANIFEST_DIR"), "/../policies"),
                )
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .status()
                .expect("crm seed-demo");
            assert!(status.success(), "crm seed-demo failed");
            (url, Some((admin, name)))
        }
        _ => (
            format!("sqlite://{}?mode=rwc", dir.join("crm.db").display()),
            None,
        ),
    }
}

/// A secret for the child server (required outside the embedded default).
const JWT_SECRET: &str = "process-test-secret-0123456789abcdef0123456789";

/// Runs one statement on the PostgreSQL server behind `admin_url` (through sqlx, which the
/// server depends on anyway).
pub fn psql(admin_url: &str, sql: &str) {
    let admin_url = admin_url.to_owned();
    let sql = sql.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            use sea_orm::ConnectionTrait;
            let db = sea_orm::Database::connect(admin_url.as_str())
                .await
                .expect("connect to TEST_DATABASE_URL");
            db.execute_unprepared(&sql).await.expect("admin statement");
            let _ = db.close().await;
        });
    })
    .join()
    .expect("admin thread");
}

impl Server {
    /// Starts `crm serve` with `env` added and waits until it answers `/healthz`.
    pub async fn start(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, postgres) = database(dir.path());
        Self::launch(dir, database_url, postgres, env).await
    }

    async fn launch(
        dir: tempfile::TempDir,
        database_url: String,
        postgres: Option<(String, String)>,
        env: &[(&str, &str)],
    ) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = spawn(addr, &database_url, dir.path(), &env);
        let mut server = Server {
            child,
            addr,
            dir,
            postgres,
            database_url,
            env,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(mut c) = Client::connect(self.addr).await
                && c.get("/healthz").await.is_ok_and(|(s, _)| s == 200)
            {
                return;
            }
            assert!(self.alive(), "the server exited");
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `crm serve` on an existing (migrated, populated) database that the caller owns.
    pub async fn on_database(database_url: &str, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::launch(dir, database_url.to_owned(), None, env).await
    }

    /// A second instance on the same database (another port and folder); the database
    /// belongs to `other`.
    pub async fn beside(other: &Server, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::launch(dir, other.database_url.clone(), None, env).await
    }

    /// Kills the process at once (SIGKILL: no shutdown, no flush).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same address and database.
    pub async fn restart(&mut self) {
        self.kill();
        self.child = spawn(self.addr, &self.database_url, self.dir.path(), &self.env);
        self.wait_healthy().await;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `/proc/<pid>/status` figure in KiB (`VmHWM` peak RSS, `VmRSS` now).
    pub fn status_kib(&self, key: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// CPU time used so far (user + system), in milliseconds.
    pub fn cpu_ms(&self) -> f64 {
        process_cpu_ms(self.pid())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }
}

/// Spawns `crm serve` on `addr` over `db`.
fn spawn(addr: SocketAddr, db: &str, dir: &std::path::Path, env: &[(String, String)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crm"));
    cmd.arg("serve")
        .arg("--addr")
        .arg(addr.to_string())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db)
        .env("CRM_JWT_SECRET", JWT_SECRET)
        .env(
            "CRM_POLICY_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../policies"),
        )
        .env(
            "RUST_LOG",
            std::env::var("SERVER_LOG").unwrap_or_else(|_| "error".into()),
        )
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(if std::env::var("SERVER_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn crm")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((admin, name)) = self.postgres.take() {
            psql(
                &admin,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            );
        }
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    stream: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream: BufReader::new(stream),
            addr,
        })
    }

    pub async fn get(&mut self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let head = format!(
            "GET {path} HTTP/1.1\r\nhost: {}\r\naccept: application/json\r\n\r\n",
            self.addr
        );
        self.stream.get_mut().write_all(head.as_bytes()).await?;
        self.read_response().await
    }

    /// `GET path` with a bearer token.
    pub async fn get_with_token(
        &mut self,
        path: &str,
        token: &str,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let head = format!(
            "GET {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\r\n",
            self.addr
        );
        self.stream.get_mut().write_all(head.as_bytes()).await?;
        self.read_response().await
    }

    /// POSTs JSON `body` to `path`, with a bearer token when given; returns the status and
    /// the JSON answer.
    pub async fn post_json(
        &mut self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> std::io::Result<(u16, serde_json::Value)> {
        let body = body.to_string();
        let auth = token
            .map(|t| format!("authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let s = self.stream.get_mut();
        s.write_all(head.as_bytes()).await?;
        s.write_all(body.as_bytes()).await?;
        let (status, bytes) = self.read_response().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        ))
    }

    /// POSTs a GraphQL request; returns the status and the JSON body.
    pub async fn graphql(
        &mut self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> std::io::Result<(u16, serde_json::Value)> {
        let body = serde_json::json!({ "query": query, "variables": variables });
        self.post_json("/graphql", token, &body).await
    }

    /// POSTs a GraphQL multipart request (one file bound to `$file`); returns the status
    /// and the JSON body.
    pub async fn graphql_file(
        &mut self,
        token: &str,
        query: &str,
        mut variables: serde_json::Value,
        file_name: &str,
        file: &[u8],
    ) -> std::io::Result<(u16, serde_json::Value)> {
        variables["file"] = serde_json::Value::Null;
        let operations = serde_json::json!({ "query": query, "variables": variables });
        let boundary = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let mut body = format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
             --{boundary}\r\ncontent-disposition: form-data; name=\"map\"\r\n\r\n{{\"0\":[\"variables.file\"]}}\r\n\
             --{boundary}\r\ncontent-disposition: form-data; name=\"0\"; filename=\"{file_name}\"\r\ncontent-type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let head = format!(
            "POST /graphql HTTP/1.1\r\nhost: {}\r\ncontent-type: multipart/form-data; boundary={boundary}\r\n\
             apollo-require-preflight: true\r\nauthorization: Bearer {token}\r\ncontent-length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let s = self.stream.get_mut();
        s.write_all(head.as_bytes()).await?;
        s.write_all(&body).await?;
        let (status, bytes) = self.read_response().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        ))
    }

    async fn read_response(&mut self) -> std::io::Result<(u16, Vec<u8>)> {
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            self.stream.read_exact(&mut body).await?;
        }
        Ok((status, body))
    }
}

/// Signs in over a fresh connection; returns the access token.
pub async fn login(addr: SocketAddr, email: &str, password: &str) -> String {
    let mut c = Client::connect(addr).await.expect("connect");
    let (_, json) = c
        .graphql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            serde_json::json!({ "e": email, "p": password }),
        )
        .await
        .expect("login");
    json["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("login as {email}: {json}"))
        .to_owned()
}

/// The `q`-quantile of sorted durations, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// A bench setting from the environment.
pub fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time process `pid` used so far (user + system), in milliseconds.
#[allow(dead_code, reason = "not every test binary measures CPU")]
pub fn process_cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks * 1000.0 / 100.0 // USER_HZ is 100 on Linux
}

/// CPU milliseconds of every process whose command is `postgres` (the database server's
/// backends; 0 on SQLite, which runs inside the server).
pub fn postgres_cpu_ms() -> f64 {
    let mut total = 0.0;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for entry in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if &stat[open + 1..close] != "postgres" {
            continue;
        }
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks = f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
        total += ticks * 10.0;
    }
    total
}
