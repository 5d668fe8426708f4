//! How long a statement may run and how a client stops it. pgwire cancels a statement only
//! while it is being planned; DataFusion does its work while the rows are pulled, after the
//! handler has returned. So each statement's row stream is bounded here too: it ends with
//! SQLSTATE 57014 when the connection's cancel request arrives or the statement's time is up,
//! and dropping it stops DataFusion's work.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion_postgres::pgwire;
use futures_util::Stream;
use futures_util::task::AtomicWaker;
use pgwire::api::ClientInfo;
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::results::{Response, SendableRowStream};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::SecretKey;
use tokio::time::{Instant, Sleep};

/// The client metadata key datafusion-postgres keeps a session's `statement_timeout` in
/// (milliseconds), which it applies to planning.
pub const STATEMENT_TIMEOUT_KEY: &str = "statement_timeout_ms";

/// One connection's cancel requests, counted; a statement watches for a count above the one
/// it started at, so a request that comes between statements cancels nothing (as in PostgreSQL).
#[derive(Default)]
pub struct CancelSignal {
    raised: AtomicU64,
    waker: AtomicWaker,
}

impl CancelSignal {
    fn raise(&self) {
        self.raised.fetch_add(1, Ordering::SeqCst);
        self.waker.wake();
    }
}

/// The logged-in connections by process id and secret key, which a cancel request names.
#[derive(Default)]
pub struct Cancels {
    connections: Mutex<HashMap<(i32, Bytes), Arc<CancelSignal>>>,
}

/// A connection's entry in `Cancels`, removed when the connection ends and drops it.
pub struct Registration {
    cancels: Arc<Cancels>,
    key: (i32, Bytes),
}

impl Cancels {
    pub fn register(
        self: &Arc<Self>,
        pid: i32,
        secret_key: SecretKey,
        signal: Arc<CancelSignal>,
    ) -> Registration {
        // A cancel request's key may decode as bytes where the login's was an i32: compare bytes.
        let key = (pid, secret_key.to_bytes());
        self.connections.lock().unwrap_or_else(PoisonError::into_inner).insert(key.clone(), signal);
        Registration { cancels: self.clone(), key }
    }

    fn raise(&self, pid: i32, secret_key: &SecretKey) -> bool {
        let connections = self.connections.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(signal) = connections.get(&(pid, secret_key.to_bytes())) else { return false };
        signal.raise();
        true
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.cancels.connections.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.key);
    }
}

/// Answers cancel requests: the statement's rows through `Cancels`, its planning through
/// pgwire's own handler.
pub struct CancelRequests {
    cancels: Arc<Cancels>,
    planning: DefaultCancelHandler,
}

impl CancelRequests {
    pub fn new(cancels: Arc<Cancels>, planning: DefaultCancelHandler) -> Self {
        Self { cancels, planning }
    }
}

#[async_trait]
impl CancelHandler for CancelRequests {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let pid = request.pid;
        let found = self.cancels.raise(pid, &request.secret_key);
        self.planning.on_cancel_request(request).await;
        tracing::info!(target: "audit", pid, found, "sql cancel request");
    }
}

/// The bounds of one statement: its deadline and the cancel count it started at.
pub struct StatementBounds {
    signal: Arc<CancelSignal>,
    started_at: u64,
    deadline: Instant,
}

impl StatementBounds {
    /// Bounds for a statement starting now: the session's `statement_timeout` when it is set
    /// and shorter than `longest`, else `longest`.
    pub fn start<C: ClientInfo + ?Sized>(client: &C, signal: &Arc<CancelSignal>, longest: Duration) -> Self {
        let session = client
            .metadata()
            .get(STATEMENT_TIMEOUT_KEY)
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        let timeout = session.map_or(longest, |session| session.min(longest));
        Self {
            signal: signal.clone(),
            started_at: signal.raised.load(Ordering::SeqCst),
            deadline: Instant::now() + timeout,
        }
    }

    /// Runs the planning step within the deadline.
    pub async fn plan<T>(&self, planning: impl Future<Output = PgWireResult<T>>) -> PgWireResult<T> {
        tokio::time::timeout_at(self.deadline, planning).await.unwrap_or_else(|_| Err(timed_out()))
    }

    /// The response with its rows (if any) bounded.
    pub fn bound(&self, response: Response) -> Response {
        match response {
            Response::Query(mut query) => {
                let rows = std::mem::replace(&mut query.data_rows, Box::pin(futures_util::stream::empty()));
                query.data_rows = Box::pin(BoundedRows {
                    rows: Box::pin(RowsMadeApart::spawn(rows)),
                    signal: self.signal.clone(),
                    started_at: self.started_at,
                    timer: Box::pin(tokio::time::sleep_until(self.deadline)),
                    ended: false,
                });
                Response::Query(query)
            }
            other => other,
        }
    }
}

fn timed_out() -> PgWireError {
    query_canceled("canceling statement due to statement timeout")
}

fn query_canceled(message: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), "57014".into(), message.into())))
}

/// Rows in chunks of at most this many, so that the hand-over between the task that makes
/// them and the connection's task costs little per row.
const ROWS_PER_HAND_OVER: usize = 1_024;

/// A statement's rows, made on a task of their own. The engine runs a statement in one
/// partition (see `sql::engine`), so without this its operators would run inside the
/// connection's poll, where a long join's loop would keep the cancel request and the deadline
/// from being seen; here the connection only waits on a channel. It also lets encoding the
/// rows and writing them to the socket use both cores.
struct RowsMadeApart {
    chunks: tokio::sync::mpsc::Receiver<Vec<PgWireResult<DataRow>>>,
    current: std::vec::IntoIter<PgWireResult<DataRow>>,
    maker: tokio::task::JoinHandle<()>,
}

impl RowsMadeApart {
    fn spawn(rows: SendableRowStream) -> Self {
        use futures_util::StreamExt;
        let (sender, chunks) = tokio::sync::mpsc::channel(2);
        let maker = tokio::spawn(async move {
            let mut made = rows.ready_chunks(ROWS_PER_HAND_OVER);
            while let Some(chunk) = made.next().await {
                if sender.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        Self { chunks, current: Vec::new().into_iter(), maker }
    }
}

impl Drop for RowsMadeApart {
    fn drop(&mut self) {
        // Stops the engine's work at its next yield rather than at its next row.
        self.maker.abort();
    }
}

impl Stream for RowsMadeApart {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(row) = self.current.next() {
                return Poll::Ready(Some(row));
            }
            match self.chunks.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => self.current = chunk.into_iter(),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A statement's rows, ending with 57014 on a cancel request or at the deadline.
struct BoundedRows {
    rows: SendableRowStream,
    signal: Arc<CancelSignal>,
    started_at: u64,
    timer: Pin<Box<Sleep>>,
    ended: bool,
}

impl BoundedRows {
    fn stop(&mut self, error: PgWireError) -> Poll<Option<PgWireResult<DataRow>>> {
        self.ended = true;
        // Dropping DataFusion's stream stops its work now rather than when the connection ends.
        self.rows = Box::pin(futures_util::stream::empty());
        Poll::Ready(Some(Err(error)))
    }

    fn cancelled(&self) -> bool {
        self.signal.raised.load(Ordering::SeqCst) != self.started_at
    }
}

impl Stream for BoundedRows {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if self.cancelled() {
            return self.stop(query_canceled("canceling statement due to user request"));
        }
        // A clock read per row is cheap next to encoding it; the timer below is only armed
        // when the engine has nothing ready.
        if Instant::now() >= self.timer.deadline() {
            return self.stop(timed_out());
        }
        match self.rows.as_mut().poll_next(cx) {
            Poll::Ready(row) => Poll::Ready(row),
            Poll::Pending => {
                self.signal.waker.register(cx.waker());
                if self.cancelled() {
                    return self.stop(query_canceled("canceling statement due to user request"));
                }
                if self.timer.as_mut().poll(cx).is_ready() {
                    return self.stop(timed_out());
                }
                Poll::Pending
            }
        }
    }
}
