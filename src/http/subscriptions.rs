//! `/graphql/ws`: subscriptions over graphql-transport-ws (and the older graphql-ws). The token
//! comes in `connection_init`'s payload (`Authorization: "Bearer …"`, as browsers cannot set
//! headers on a WebSocket); a missing or bad one closes the socket with 4403 Forbidden, as the
//! protocol recommends. The socket is closed with 4401 when the token expires, and every
//! operation on it counts against the subject's rate limit.

use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};

use super::HttpState;
use crate::access::RequestAccess;
use crate::graphql::operation_rules::OverWebSocket;

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
    let verified =
        token_of(&first).and_then(|header| state.app.tokens.verify_header_until(Some(&header)).ok());
    let Some((viewer, valid_until)) = verified else {
        tracing::info!(target: "audit", outcome = "UNAUTHENTICATED", "subscription refused");
        let close = CloseFrame { code: 4403, reason: "Forbidden".into() };
        let _ = sink.send(Message::Close(Some(close))).await;
        return;
    };
    tracing::info!(target: "audit", subject = %viewer.subject, role = %viewer.role, "subscription connected");
    let subject = viewer.subject.clone();
    let mut data =
        crate::graphql::viewer_data(&state.app, RequestAccess::new(viewer, state.app.policy.current()));
    data.insert(OverWebSocket);
    // The socket lives no longer than its token: at expiry the protocol stops reading and
    // the socket closes with 4401, as an HTTP request with that token would be refused.
    let expired = tokio::time::sleep(until(valid_until));
    let (outgoing, mut to_send) = tokio::sync::mpsc::channel::<Message>(64);
    let protocol_sink = futures_util::sink::unfold(outgoing, |outgoing, message: Message| async move {
        outgoing.send(message).await.map_err(|_| axum::Error::new("the socket is closed"))?;
        Ok::<_, axum::Error>(outgoing)
    });
    let writer = tokio::spawn(async move {
        tokio::pin!(expired);
        loop {
            tokio::select! {
                message = to_send.recv() => match message {
                    Some(message) => {
                        if sink.send(message).await.is_err() {
                            return;
                        }
                    }
                    // The protocol ended: at expiry (it stops reading then too) say why.
                    None => {
                        if until(valid_until).is_zero() {
                            close_expired(&mut sink, &subject).await;
                        }
                        return;
                    }
                },
                () = &mut expired => {
                    close_expired(&mut sink, &subject).await;
                    return;
                }
            }
        }
    });
    // The init message was read here; hand it back so the protocol sees the whole exchange.
    let stream = futures_util::stream::once(async move { Ok::<_, axum::Error>(first) })
        .chain(stream)
        .take_until(tokio::time::sleep(until(valid_until)));
    GraphQLWebSocket::new_with_pair(Box::pin(protocol_sink), stream, state.schema.clone(), protocol)
        .with_data(data)
        .serve()
        .await;
    let _ = writer.await;
}

async fn close_expired(sink: &mut futures_util::stream::SplitSink<WebSocket, Message>, subject: &str) {
    tracing::info!(target: "audit", subject = %subject, "subscription closed: token expired");
    let close = CloseFrame { code: 4401, reason: "token expired".into() };
    let _ = sink.send(Message::Close(Some(close))).await;
}

/// How long from now until `seconds` since the epoch.
fn until(seconds: u64) -> std::time::Duration {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    std::time::Duration::from_secs(seconds).saturating_sub(now)
}
