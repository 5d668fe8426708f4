//! On PostgreSQL the sale table is partitioned by month (declarative range partitions on
//! `sold_on`), so that pages, imports and date-range sums touch only the months they need.
//! One partition per calendar month, named `sale_yYYYYmMM`; there is no default partition, so
//! every month gets its own before its first row lands (the ingest creates them as data
//! arrives, the migration for the months already stored).

/// The partition holding `year`-`month`.
pub fn partition_name(year: i32, month: u32) -> String {
    format!("sale_y{year:04}m{month:02}")
}

/// The first day of the month after `year`-`month`, as (year, month).
fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month >= 12 { (year + 1, 1) } else { (year, month + 1) }
}

/// The bounds clause of one month's partition.
fn bounds(year: i32, month: u32) -> String {
    let (next_year, next) = next_month(year, month);
    format!("FOR VALUES FROM ('{year:04}-{month:02}-01') TO ('{next_year:04}-{next:02}-01')")
}

/// Creates one month's partition as its own table, then attaches it. Attaching takes only a
/// SHARE UPDATE EXCLUSIVE lock on `sale` (where `CREATE TABLE … PARTITION OF` takes ACCESS
/// EXCLUSIVE), so an ingest that creates a partition inside its long transaction does not
/// block readers of the other months until it commits.
pub fn create_and_attach(year: i32, month: u32) -> [String; 2] {
    let name = partition_name(year, month);
    [
        format!("CREATE TABLE {name} (LIKE sale INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"),
        format!("ALTER TABLE sale ATTACH PARTITION {name} {}", bounds(year, month)),
    ]
}

/// The partitions attached to `sale`, by name.
pub const ATTACHED_PARTITIONS: &str = "SELECT child.relname::text FROM pg_inherits \
     JOIN pg_class child ON child.oid = pg_inherits.inhrelid \
     WHERE pg_inherits.inhparent = 'sale'::regclass";

/// Serializes partition creation between concurrent ingests (and replicas): held to the end
/// of the creating transaction.
pub const CREATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7302215101)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_covers_exactly_its_month() {
        assert_eq!(partition_name(2024, 3), "sale_y2024m03");
        assert_eq!(bounds(2024, 3), "FOR VALUES FROM ('2024-03-01') TO ('2024-04-01')");
        assert_eq!(bounds(2024, 12), "FOR VALUES FROM ('2024-12-01') TO ('2025-01-01')");
        let [create, attach] = create_and_attach(2019, 1);
        assert!(create.starts_with("CREATE TABLE sale_y2019m01 (LIKE sale"));
        assert!(attach.ends_with("FROM ('2019-01-01') TO ('2019-02-01')"));
    }
}
