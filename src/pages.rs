//! Pages of sale rows (newest first, keyset cursors): cut from the newest months' rows in memory
//! when they hold the whole page (`cube::recent_rows`), read from the sale table otherwise.

use sea_orm::DbErr;

use crate::data::Snapshot;
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
    // Going forward, the months that hold the page by the cube's counts: both the rows in memory
    // and the table need only those.
    let window_start = match direction {
        Direction::Forward => {
            let newest = cursor.map(|c| c.sold_on).or(snapshot.last_sale_day).map(crate::cube::month_index);
            let to = filter.to.map(crate::cube::month_index);
            let start = newest.into_iter().chain(to).min();
            start.and_then(|month| snapshot.cube.page_window(filter, month, size + 1))
        }
        Direction::Backward => None,
    };
    if let Some(page) = snapshot.cube.recent_page(filter, direction, cursor, size, window_start) {
        return Ok(page);
    }
    sales::page(store, filter, direction, cursor, size, window_start).await
}
