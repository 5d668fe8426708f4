//! The dashboard at `/dashboard`: a static page, its script and styles, and Chart.js and
//! graphql-ws (pinned from the npm registry, assets/dashboard), all embedded in the binary. The
//! page reads every figure through `/graphql` with the viewer's token, so each panel obeys the
//! role and regions exactly as the API does; nothing is rendered with data on the server.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::HttpState;

/// Only this origin, for scripts, styles, images and connections (fetch and the WebSocket):
/// the browser itself refuses anything that would leave the gateway.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = include_str!("../../assets/dashboard/index.html");

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("dashboard.js", "text/javascript", include_bytes!("../../assets/dashboard/dashboard.js")),
    ("dashboard.css", "text/css", include_bytes!("../../assets/dashboard/dashboard.css")),
    ("chart.umd.min.js", "text/javascript", include_bytes!("../../assets/dashboard/vendor/chart.umd.min.js")),
    (
        "graphql-ws.min.js",
        "text/javascript",
        include_bytes!("../../assets/dashboard/vendor/graphql-ws.min.js"),
    ),
];

pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        PAGE,
    )
        .into_response()
}

/// One embedded script or stylesheet. `no-cache` makes the browser revalidate (cheap on
/// loopback) so that a new build's dashboard is never mixed with an old build's script.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, format!("no dashboard asset named {name}")).into_response(),
    }
}

#[derive(Serialize)]
pub struct DevToken {
    role: String,
    subject: String,
    regions: Vec<String>,
    token: String,
}

/// In dev mode (no `SALESGRAPH_JWT_SECRET`), the start-up banner's tokens, one per role, for the
/// sign-in's role picker; with a configured secret an empty list, so a deployed gateway never
/// hands out tokens.
pub async fn dev_tokens(State(state): State<HttpState>) -> Response {
    let tokens = match state.app.tokens.dev_tokens(std::time::Duration::from_secs(12 * 3600)) {
        Ok(tokens) => tokens,
        Err(error) => {
            tracing::error!(%error, "issuing dev tokens");
            return (StatusCode::INTERNAL_SERVER_ERROR, "could not issue dev tokens").into_response();
        }
    };
    let tokens: Vec<DevToken> = tokens
        .into_iter()
        .map(|(viewer, token)| DevToken {
            role: viewer.role.as_str().to_string(),
            subject: viewer.subject,
            regions: viewer.regions,
            token,
        })
        .collect();
    ([(header::CACHE_CONTROL, "no-store")], Json(tokens)).into_response()
}
