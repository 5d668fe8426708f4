//! GraphiQL served from the binary: the page and its scripts and styles (assets/graphiql,
//! pinned from the npm registry), so that it renders where public CDNs are out of reach.
//! `SALESGRAPH_GRAPHIQL_ASSETS` points the page at a mirror instead.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::HttpState;
use crate::auth::{Role, Viewer};

/// Where the page loads its assets from when no mirror is configured.
pub const ASSETS_PATH: &str = "/graphiql";

const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "react.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    ("graphiql.min.js", "text/javascript", include_bytes!("../../assets/graphiql/graphiql.min.js")),
    ("graphiql.min.css", "text/css", include_bytes!("../../assets/graphiql/graphiql.min.css")),
    (
        "plugin-explorer.umd.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/plugin-explorer.umd.js"),
    ),
    ("plugin-explorer.css", "text/css", include_bytes!("../../assets/graphiql/plugin-explorer.css")),
];

/// One embedded asset; they never change within a build, so browsers may keep them.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, bytes)) => (
            [(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "public, max-age=86400")],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, format!("no GraphiQL asset named {name}")).into_response(),
    }
}

fn escape_js(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string()).replace("</", "<\\/")
}

/// The page. The Authorization header is prefilled from the dashboard's sign-in (the browser's
/// local storage), or in dev mode with a fresh admin token, so that the first query just runs.
pub async fn page(State(state): State<HttpState>) -> Response {
    let base = state
        .app
        .settings
        .graphiql_assets
        .as_deref()
        .unwrap_or(ASSETS_PATH)
        .trim_end_matches('/')
        .to_string();
    let dev_token = if state.app.tokens.dev_mode {
        state
            .app
            .tokens
            .issue(
                &Viewer::new("graphiql", Role::Admin, Vec::new()),
                std::time::Duration::from_secs(8 * 3600),
            )
            .ok()
    } else {
        None
    };
    let dev_token = escape_js(dev_token.as_deref().unwrap_or(""));
    let base_js = escape_js(&base);
    let mut nonce_bytes = [0u8; 16];
    if getrandom::fill(&mut nonce_bytes).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness for the page's script nonce")
            .into_response();
    }
    let nonce = hex::encode(nonce_bytes);
    let policy = content_security_policy(&base, &nonce);
    let html = Html(format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="robots" content="noindex">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>salesgraph · GraphiQL</title>
  <style nonce="{nonce}">body {{ margin: 0; height: 100vh; overflow: hidden; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="{base}/graphiql.min.css">
  <link rel="stylesheet" href="{base}/plugin-explorer.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="{base}/react.production.min.js"></script>
  <script src="{base}/react-dom.production.min.js"></script>
  <script src="{base}/graphiql.min.js"></script>
  <script src="{base}/plugin-explorer.umd.js"></script>
  <script nonce="{nonce}">
    const assets = {base_js};
    const token = window.localStorage.getItem("salesgraph.token") || {dev_token};
    const headers = JSON.stringify({{ Authorization: "Bearer " + (token || "<paste a token from `salesgraph token`>") }}, null, 2);
    const fetcher = GraphiQL.createFetcher({{ url: new URL("/graphql", window.location.origin).toString() }});
    const explorer = GraphiQLPluginExplorer.explorerPlugin();
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher,
        defaultHeaders: headers,
        headers,
        plugins: [explorer],
        defaultEditorToolsVisibility: true,
        defaultQuery: "# salesgraph: Ctrl-Enter runs the query.\n{{\n  topModels(limit: 5) {{\n    rank\n    model {{ name }}\n    units\n  }}\n}}\n",
      }})
    );
    void assets;
  </script>
</body>
</html>
"##
    ));
    let mut response = html.into_response();
    if let Ok(value) = header::HeaderValue::from_str(&policy) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
        .headers_mut()
        .insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    response
}

/// The dashboard's policy for GraphiQL: scripts and styles from this origin (or the configured
/// mirror's) and the page's own inline script by its nonce; connections to this origin only;
/// never framed. Style attributes stay allowed: React sets them on GraphiQL's panes.
fn content_security_policy(assets_base: &str, nonce: &str) -> String {
    let mirror = assets_base
        .split_once("://")
        .map(|(scheme, rest)| format!(" {scheme}://{}", rest.split('/').next().unwrap_or_default()))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}'{mirror}; style-src 'self' 'unsafe-inline'{mirror}; \
         img-src 'self' data:; font-src 'self' data:{mirror}; connect-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_mirror_and_the_nonce_and_forbids_framing() {
        let own = content_security_policy(ASSETS_PATH, "abc");
        assert!(own.contains("script-src 'self' 'nonce-abc';"), "{own}");
        assert!(own.contains("frame-ancestors 'none'"), "{own}");
        let mirrored = content_security_policy("https://cdn.example.com/graphiql/3", "abc");
        assert!(mirrored.contains("script-src 'self' 'nonce-abc' https://cdn.example.com;"), "{mirrored}");
    }
}
