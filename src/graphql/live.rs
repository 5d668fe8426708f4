//! Live updates: `salesUpdated` pushes the filtered totals whenever new data lands and changes
//! them. Every replica follows the data version (startup::follow_data_version), so an import
//! through any replica reaches subscribers on all of them; the filter is resolved in the
//! subscriber's scope like any query.

use async_graphql::{Context, Result, SimpleObject, Subscription};
use futures_util::Stream;

use super::error::ApiError;
use super::filter::SalesFilter;
use super::scalars::Date;
use super::{app, resolve_filter};
use crate::domain::ResolvedFilter;
use crate::summary::{self, SummaryRequest};

/// The filtered totals after new data landed.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct SalesUpdate {
    /// The data version the totals are from; it grows with every import.
    pub version: i64,
    /// Cars sold within the filter (and the subscriber's regions).
    pub units: i64,
    /// Sale rows within the filter.
    pub rows: i64,
    /// The day of the latest sale in the data.
    pub last_sale_day: Option<Date>,
}

async fn totals(app: &crate::app::AppContext, filter: &ResolvedFilter) -> Result<SalesUpdate, ApiError> {
    let snapshot = app.snapshot();
    let rows = summary::summarize(
        &app.store,
        &snapshot.cube,
        &snapshot.catalogue,
        filter,
        &SummaryRequest::default(),
    )
    .await?;
    let total = rows.first().cloned().unwrap_or_default();
    Ok(SalesUpdate {
        version: snapshot.version,
        units: total.units,
        rows: total.rows,
        last_sale_day: snapshot.last_sale_day.map(Date),
    })
}

#[derive(Default)]
pub struct SubscriptionRoot;

/// Live updates over `/graphql/ws` (graphql-transport-ws).
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Pushed when new data lands that changes the totals of the filter, within the
    /// subscriber's regions: the dashboard's cue to refresh.
    async fn sales_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to watch; all of them when omitted.")] filter: Option<SalesFilter>,
    ) -> Result<impl Stream<Item = SalesUpdate>> {
        let app = app(ctx)?.clone();
        let filter = resolve_filter(ctx, filter.as_ref())?;
        let receiver = app.updates.subscribe();
        let last = totals(&app, &filter).await?;
        Ok(futures_util::stream::unfold(
            (receiver, last, app, filter),
            |(mut receiver, last, app, filter)| async move {
                loop {
                    match receiver.recv().await {
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                    match totals(&app, &filter).await {
                        Ok(now) if now.units != last.units || now.rows != last.rows => {
                            return Some((now.clone(), (receiver, now, app, filter)));
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(error = %error.message(), "salesUpdated could not compute the totals");
                        }
                    }
                }
            },
        ))
    }
}
