//! GraphQL over plain HTTP/1.1 with hyper: the transport of the example client (and of
//! the test that runs it against a real listener).

use std::time::Duration;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::flow::Transport;

/// Where `CRM_URL` points when it is not set.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8000/graphql";

/// GraphQL over plain HTTP/1.1 with hyper, one connection per request. (A real client
/// would use a pooled HTTPS client; this keeps the example's dependencies to what the
/// server already builds.)
pub struct Http {
    uri: Uri,
    host: String,
    port: u16,
}

impl Http {
    /// A transport posting to `url` (`http://host:port/path`).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("CRM_URL {url:?} is not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => bail!(
                "CRM_URL {url:?}: this example speaks plain http only, not {other} \
                 (run it against the server directly, e.g. {DEFAULT_URL})"
            ),
            None => bail!("CRM_URL {url:?} needs a scheme, e.g. {DEFAULT_URL}"),
        }
        let host = uri
            .host()
            .with_context(|| format!("CRM_URL {url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(80);
        Ok(Self { uri, host, port })
    }
}

impl Transport for Http {
    async fn post(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value> {
        let unreachable = || {
            format!(
                "cannot reach the CRM server at {} (is it running? start it with \
                 `cargo run -p api`, or point CRM_URL at it)",
                self.uri
            )
        };
        let stream = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connection timed out"))
        .and_then(|r| r.map_err(anyhow::Error::from))
        .with_context(unreachable)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(unreachable)?;
        tokio::spawn(conn);

        let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
        let authority = self
            .uri
            .authority()
            .map_or_else(|| self.host.clone(), |a| a.to_string());
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut req = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json");
        if let Some(token) = token {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req.body(Full::new(Bytes::from(body)))?;

        let res = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
            .await
            .context("the server did not answer within 30 s")?
            .with_context(unreachable)?;
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .context("reading the response")?
            .to_bytes();
        if status == hyper::StatusCode::UNAUTHORIZED {
            bail!("HTTP 401: the server rejected the access token");
        }
        // GraphQL errors come back as JSON (with 200 or 400); anything else is not ours.
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "HTTP {status} from {} is not a GraphQL response: {}",
                self.uri,
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )
        })
    }
}
