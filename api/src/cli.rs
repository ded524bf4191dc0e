//! The `crm` command line: serve (default), migrate, create-admin, export-schema, seed-demo.

use std::io::BufRead;
use std::net::SocketAddr;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Parser, Subcommand};
use entity::enums::Role;
use entity::user;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use tokio::net::TcpListener;

use crate::auth::password::{hash_password, validate_password};
use crate::config::{Config, LogFormat};
use crate::seed;
use crate::state::AppState;

/// The CRM GraphQL server.
#[derive(Debug, Parser)]
#[command(name = "crm", version, about)]
pub struct Cli {
    /// Configuration shared by all subcommands.
    #[command(flatten)]
    pub config: Config,
    /// Address to listen on (for `serve`).
    #[arg(
        long,
        env = "CRM_ADDR",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub addr: SocketAddr,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create an administrator (password from `CRM_ADMIN_PASSWORD` or the first stdin line).
    CreateAdmin {
        /// The administrator's login email.
        #[arg(long)]
        email: String,
        /// The administrator's display name.
        #[arg(long)]
        name: String,
    },
    /// Print the GraphQL SDL (what `schema.graphql` must contain).
    ExportSchema,
    /// Seed the demo organisation into an empty database (any backend).
    SeedDemo,
}

/// Installs the global tracing subscriber (`RUST_LOG` filters; default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::ExportSchema => {
            print!("{}", crate::export_sdl());
            Ok(())
        }
        Command::Migrate => {
            let db = open(&cli.config).await?;
            tracing::info!("migrations applied");
            db.close().await.ok();
            Ok(())
        }
        Command::Serve => serve(cli.config, cli.addr).await,
        Command::CreateAdmin { email, name } => {
            let db = open(&cli.config).await?;
            let password = read_admin_password()?;
            create_admin(&db, &email, &name, password).await?;
            println!("created administrator {}", email.trim().to_lowercase());
            Ok(())
        }
        Command::SeedDemo => {
            let db = open(&cli.config).await?;
            if !seed::is_empty(&db).await? {
                bail!("the database already has users; seed-demo only seeds an empty database");
            }
            let logins = seed::seed_demo(&db).await?;
            print_logins(&logins);
            Ok(())
        }
    }
}

/// Connects and migrates.
async fn open(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let db = crate::db::connect_with(
        &config.database_url,
        config.db_max_connections,
        std::time::Duration::from_secs(config.db_acquire_timeout_secs),
    )
    .await
    .context("connecting to the database")?;
    Migrator::up(&db, None)
        .await
        .context("running migrations")?;
    Ok(db)
}

async fn serve(config: Config, addr: SocketAddr) -> anyhow::Result<()> {
    if let Err(problem) = config.validate() {
        bail!(problem);
    }
    let db = open(&config).await?;
    // The policy first: a broken policy stops the server before anything is written.
    let embedded = config.is_embedded();
    let state = AppState::new(db.clone(), config)?;
    if embedded && seed::is_empty(&db).await? {
        let logins = seed::seed_demo(&db).await?;
        print_logins(&logins);
    }
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let purge = tokio::spawn(crate::service::audit::purge_daily(state.deps.clone()));
    // SQLite's planner statistics: analysed at start, re-checked every ten minutes.
    let statistics = tokio::spawn(crate::db::keep_statistics(
        db.clone(),
        std::time::Duration::from_secs(600),
    ));
    // A new database starts with the default automations (once: deleted ones stay gone).
    if state.deps.config.default_automations
        && crate::service::automation::schedule::install_defaults(&state.deps).await?
    {
        tracing::info!("default automations installed");
    }
    // Jobs left by other instances, or by this one before a restart, run from the start;
    // schedules fire from here on.
    state.deps.jobs.start(&state.deps);
    tracing::info!(%addr, "serving GraphQL on http://{addr}/graphql");
    axum::serve(
        listener,
        crate::app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving")?;
    purge.abort();
    statistics.abort();
    tracing::info!("in-flight requests finished; shutting down");
    db.close().await.ok();
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; axum then stops accepting and drains in-flight requests.
async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

fn print_logins(logins: &[seed::DemoLogin]) {
    println!(
        "Demo organisation seeded. Every demo login uses the password: {}",
        seed::DEMO_PASSWORD
    );
    for l in logins {
        let role = match l.role {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::SalesRep => "sales rep",
        };
        match &l.team {
            Some(team) => println!("  {:<28} {role} ({team})", l.email),
            None => println!("  {:<28} {role}", l.email),
        }
    }
}

fn read_admin_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("CRM_ADMIN_PASSWORD") {
        return Ok(p);
    }
    eprintln!("Password for the new administrator (one line on stdin):");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Creates an active administrator without a team.
pub async fn create_admin(
    db: &DatabaseConnection,
    email: &str,
    name: &str,
    password: String,
) -> anyhow::Result<user::Model> {
    let email = email.trim().to_lowercase();
    let name = name.trim();
    if !email.contains('@') || email.contains(char::is_whitespace) {
        bail!("email: not a valid email address");
    }
    if name.is_empty() {
        bail!("name: must not be empty");
    }
    validate_password(&password, &email).map_err(|e| anyhow::anyhow!(e.to_string()))?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .is_some()
    {
        bail!("email: a user with this email already exists");
    }
    let hash = hash_password(password)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let now = Utc::now();
    let model = user::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        email: Set(email),
        name: Set(name.to_owned()),
        password_hash: Set(hash),
        role: Set(Role::Admin),
        team_id: Set(None),
        active: Set(true),
        must_change_password: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(model)
}
