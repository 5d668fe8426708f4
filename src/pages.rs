//! Pages of sale rows (newest first, keyset cursors): cut from the newest months' rows in memory
//! when they hold the whole page (`cube::recent_rows`), read from the sale table otherwise.

use sea_orm::DbErr;

use crate::app::Snapshot;
use crate::domain::ResolvedFilter;
use crate::store::Store;
use crate::store::sales::{self, Direction, Page, SaleCursor};

/// One page of the rows matching `filter`, `size` long, walking `direction` from `cursor`.
pub async fn sales_page(
    store: &Store,
    snapshot: &Snapshot,
    filter: &ResolvedFilter,
    direction: Direction,
    cursor: Option<SaleCursor>,
    size: u64,
) -> Result<Page, DbErr> {
    if let Some(page) = snapshot.cube.recent_page(filter, direction, cursor, size) {
        return Ok(page);
    }
    let newest = cursor.map(|c| c.sold_on).or(snapshot.last_sale_day);
    let window_start =
        newest.and_then(|day| snapshot.cube.page_window(filter, crate::cube::month_index(day), size + 1));
    sales::page(store, filter, direction, cursor, size, window_start).await
}
