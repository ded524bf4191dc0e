//! The tool surface: each tool's name, description (what a model reads to decide when and
//! how to call it), input schema and annotations; the work is in [`super::ops`].

use std::future::Future;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, Implementation, JsonObject, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::Actor;
use crate::authz::Viewer;
use crate::error::ApiResult;
use crate::mcp::args::{self, schema};
use crate::mcp::{ops, view};
use crate::service::Deps;

/// What a client shows the model about the server as a whole.
const INSTRUCTIONS: &str = "Tools over a sales CRM (companies, contacts, deals, activities), acting as \
the signed-in user: you see and change only what their permissions allow, and a deal amount they may \
not see is null. Find records with the search_* tools and use the ids they return in later calls \
(get_deal, create_deal, log_activity). Searches return at most 50 rows; follow nextCursor for more. \
A failed call returns an error naming the argument at fault: correct it and call again.";

/// The MCP server: the tools, over the services' dependencies. One is made per request
/// (the transport is stateless); the router is built once and shared.
#[derive(Clone)]
pub struct Tools {
    deps: Deps,
    router: Arc<ToolRouter<Tools>>,
}

impl Tools {
    /// The tools over `deps`.
    pub fn new(deps: Deps) -> Self {
        Self {
            deps,
            router: Arc::new(Self::tool_router()),
        }
    }

    /// Runs `op` as the signed-in user with the call's arguments read as `A`. Anything the
    /// model can correct (arguments, validation, permissions, a missing record) is a tool
    /// error; a protocol error only for a request that never passed the authentication gate.
    async fn run<A, T, F, Fut>(
        &self,
        tool: &'static str,
        ctx: &RequestContext<RoleServer>,
        arguments: JsonObject,
        op: F,
    ) -> Result<CallToolResult, ErrorData>
    where
        A: DeserializeOwned + Send,
        T: Serialize,
        F: FnOnce(Deps, Viewer, A) -> Fut + Send,
        Fut: Future<Output = ApiResult<T>> + Send,
    {
        let viewer = signed_in(ctx)?;
        let user_id = viewer.user_id;
        // rmcp runs the call in a task of its own and only cancels `ctx.ct` when the HTTP
        // request goes away (the client disconnected, or the request timeout answered
        // 408): stop the work then, as a GraphQL request's work stops with its future,
        // rather than let it run — and commit — with nobody waiting for it.
        let outcome = match args::parse::<A>(arguments, &self.deps.config.limits) {
            Ok(a) => tokio::select! {
                outcome = op(self.deps.clone(), viewer, a) => outcome,
                () = ctx.ct.cancelled() => {
                    tracing::info!(target: "mcp", tool, %user_id, "tool call abandoned by its request");
                    return Err(ErrorData::internal_error("the request was abandoned", None));
                }
            },
            Err(e) => Err(e),
        };
        Ok(match outcome {
            Ok(value) => {
                tracing::info!(target: "mcp", tool, %user_id, "tool call");
                view::success(&value)
            }
            Err(e) => {
                tracing::info!(target: "mcp", tool, %user_id, code = e.code(), "tool call refused");
                view::failure(&e)
            }
        })
    }
}

/// The viewer the authentication gate put on the request (see [`super::router`]).
fn signed_in(ctx: &RequestContext<RoleServer>) -> Result<Viewer, ErrorData> {
    ctx.extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Actor>())
        .map(|actor| actor.viewer.clone())
        .ok_or_else(|| ErrorData::internal_error("the request was not authenticated", None))
}

#[tool_router]
impl Tools {
    /// Finds companies by name or web domain (case-insensitive), optionally by industry,
    /// among those you may see; by name. Returns id, name, domain, industry, size, city,
    /// country and owner of each, the total count, and nextCursor when more match. Use the
    /// ids with search_contacts, search_deals, create_contact, create_deal and log_activity.
    #[tool(
        input_schema = schema::<args::SearchCompanies>(),
        annotations(title = "Search companies", read_only_hint = true, open_world_hint = false)
    )]
    async fn search_companies(
        &self,
        ctx: RequestContext<RoleServer>,
        arguments: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        self.run("search_companies", &ctx, arguments, ops::search_companies)
            .await
    }

    /// Finds people (contacts) by name or email (case-insensitive), optionally at one
    /// company, among those you may see; by full name. Returns id, name, title, email,
    /// phones, department and company of each, the total count, and nextCursor when more
    /// match.
    #[tool(
        input_schema = schema::<args::SearchContacts>(),
        annotations(title = "Search contacts", read_only_hint = true, open_world_hint = false)
    )]
    async fn search_contacts(
        &self,
        ctx: RequestContext<RoleServer>,
        arguments: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        self.run("search_contacts", &ctx, arguments, ops::search_contacts)
            .await
    }

    /// Finds deals you may see by title text, stage, owner (me / team / all), company,
    /// expected close date range and amount range; every condition given must hold. For
    /// "deals closing this week" pass openOnly, closeFrom and closeTo (the result gives
    /// today's date) and sort "closeDate". Returns id, title, stage, amount (null when you
    /// may not see it), currency, probability, expected close date, company and owner of
    /// each, the total count, and nextCursor when more match. Use get_deal for one deal's
    /// details.
    #[tool(
        input_schema = schema::<args::SearchDeals>(),
        annotations(title = "Search deals", read_only_hint = true, open_world_hint = false)
    )]
    async fn search_deals(
        &self,
        ctx: RequestContext<RoleServer>,
        arguments: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        self.run("search_deals", &ctx, arguments, ops::search_deals)
            .await
    }

    /// One deal in full: its fields (amount null when you may not see it), notes, company,
    /// main contact, most recent activities, and what you may do with it (youCan). An id
    /// you may not see reads as not found.
    #[tool(
        input_schema = schema::<args::GetDeal>(),
        annotations(title = "Get a deal", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_deal(
        &self,
        ctx: RequestContext<RoleServer>,
        arguments: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        self.run("get_deal", &ctx, arguments, ops::get_deal).await
    }

    /// The sales pipeline: per stage (in pipeline order) the number of deals, their total
    /// amount and their probability-weighted amount, plus the open stages' totals; for your
    /// deals, your team's or all you may see, optionally one currency and an expected close
    /// date range. Amounts you may not see count as zero.
    #[tool(
        input_schema = schema::<args::PipelineSummary>(),
        annotations(title = "Pipeline summary", read_only_hint = true, open_world_hint = false)
    )]
    async fn pipeline_summary(
        &self,
        ctx: RequestContext<RoleServer>,
        arguments: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        self.run("pipeline_summary", &ctx, arguments, ops::pipeline_summary)
            .await
    }

    /// Adds a person (contact), owned by you unless ownerId says otherwise; a first or a
    /// last name is required. For "John Smith, VP of Sales at Acme", find Acme's id with
    /// search_companies first and pass it as companyId. Returns the new contact with its id.
    /// Invalid values are reported per argument; nothing is saved then.
    #[tool(
        input_schema = schema::<args::CreateContact>(),
        annotations(
            title = "Create a contact",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_contact(
        &self,
        ctx: RequestContext<RoleServer>,
        arguments: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        self.run("create_contact", &ctx, arguments, ops::create_contact)
            .await
    }

    /// Adds a deal with a company (companyId from search_companies) and a title; amount,
    /// currency (default USD), stage (default PROSPECTING), expected close date (in the
    /// future), main contact, source, priority and notes are optional. Owned by you unless
    /// ownerId says otherwise (your permissions decide). Returns the new deal with its id.
    #[tool(
        input_schema = schema::<args::CreateDeal>(),
        annotations(
            title = "Create a deal",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_deal(
        &self,
        ctx: RequestContext<RoleServer>,
        arguments: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        self.run("create_deal", &ctx, arguments, ops::create_deal)
            .await
    }

    /// Records an activity — a CALL, EMAIL, MEETING, NOTE or TASK — about a deal, company
    /// and/or contact. Set completed true for something that already happened (a call just
    /// made); for a to-do leave it false and give dueAt. Assigned to you unless
    /// assignedToId says otherwise. Returns the new activity with its id.
    #[tool(
        input_schema = schema::<args::LogActivity>(),
        annotations(
            title = "Log an activity",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn log_activity(
        &self,
        ctx: RequestContext<RoleServer>,
        arguments: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        self.run("log_activity", &ctx, arguments, ops::log_activity)
            .await
    }
}

#[tool_handler(router = self.router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("crm", env!("CARGO_PKG_VERSION")).with_title("CRM"),
            )
            .with_instructions(INSTRUCTIONS)
    }
}
