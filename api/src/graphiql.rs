//! The GraphiQL playground, with its assets embedded so it works offline.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// (file name, content type, bytes) of every embedded asset.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    ),
];

/// The playground page; `assets_url` is where the four files above are loaded from.
pub fn page(assets_url: &str, endpoint: &str) -> Html<String> {
    let base = html_escape(assets_url.trim_end_matches('/'));
    let endpoint = html_escape(endpoint);
    Html(format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CRM GraphQL playground</title>
<link rel="stylesheet" href="{base}/graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{base}/react.production.min.js"></script>
<script src="{base}/react-dom.production.min.js"></script>
<script src="{base}/graphiql.min.js"></script>
<script>
  const fetcher = GraphiQL.createFetcher({{ url: "{endpoint}" }});
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {{
    fetcher,
    defaultEditorToolsVisibility: true,
    defaultQuery: "# 1. Run this. 2. In Headers put {{\"Authorization\": \"Bearer <accessToken>\"}}. 3. Query away.\nmutation {{\n  login(email: \"admin@demo.crm\", password: \"demo-password-2026\") {{\n    accessToken\n    user {{ id name role }}\n  }}\n}}\n"
  }}));
</script>
</body>
</html>"##
    ))
}

/// Serves one embedded asset; they never change within a build, so browsers may cache them.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
