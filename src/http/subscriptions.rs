//! `/graphql/ws`: subscriptions over graphql-transport-ws (and the older graphql-ws). The token
//! comes in `connection_init`'s payload (`Authorization: "Bearer …"`, as browsers cannot set
//! headers on a WebSocket); a missing or bad one closes the socket with 4403 Forbidden, as the
//! protocol recommends.

use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};

use super::HttpState;
use crate::access::RequestAccess;
use crate::auth::Viewer;

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn upgrade(
    State(state): State<HttpState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(state, protocol, socket))
}

/// The bearer token of a `connection_init` message.
fn token_of(message: &Message) -> Option<String> {
    let Message::Text(text) = message else { return None };
    let value: serde_json::Value = serde_json::from_str(text.as_str()).ok()?;
    if value["type"] != "connection_init" {
        return None;
    }
    let payload = &value["payload"];
    ["Authorization", "authorization"]
        .iter()
        .find_map(|key| payload[*key].as_str().map(str::to_string))
        .or_else(|| payload["token"].as_str().map(|t| format!("Bearer {t}")))
}

async fn serve(state: HttpState, protocol: GraphQLProtocol, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let first = match tokio::time::timeout(INIT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(message))) => message,
        _ => return,
    };
    let viewer: Option<Viewer> =
        token_of(&first).and_then(|header| state.app.tokens.verify_header(Some(&header)).ok());
    let Some(viewer) = viewer else {
        tracing::info!(target: "audit", outcome = "UNAUTHENTICATED", "subscription refused");
        let close = CloseFrame { code: 4403, reason: "Forbidden".into() };
        let _ = sink.send(Message::Close(Some(close))).await;
        return;
    };
    tracing::info!(target: "audit", subject = %viewer.subject, role = %viewer.role, "subscription connected");
    let data =
        crate::graphql::viewer_data(&state.app, RequestAccess::new(viewer, state.app.policy.current()));
    // The init message was read here; hand it back so the protocol sees the whole exchange.
    let stream = futures_util::stream::once(async move { Ok::<_, axum::Error>(first) }).chain(stream);
    GraphQLWebSocket::new_with_pair(sink, stream, state.schema.clone(), protocol)
        .with_data(data)
        .serve()
        .await;
}
