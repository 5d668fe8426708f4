//! Parquet files for `salesgraph import`, read by polars a slice of rows at a time, so that a
//! file of any size is held a slice at a time. Each value becomes the text a CSV cell would hold
//! (dates ISO, numbers as written), and the CSV import's checks take it from there.

use polars::prelude::{Column, DataType, ParquetReader, SerReader, StringChunked};

use super::mapping::ColumnMap;
use super::{ImportOptions, LineChunks, LineSender, ReadLine, read_row};

/// Rows decoded at a time: a few of the file's row groups at most.
const SLICE_ROWS: usize = 65_536;

pub(super) struct ParquetFile {
    file: std::fs::File,
    columns: Vec<String>,
    rows: usize,
}

impl ParquetFile {
    /// Reads the file's schema and row count; an error names what is wrong with the file.
    pub(super) fn open(file: std::fs::File) -> Result<Self, String> {
        let unreadable = |e: polars::prelude::PolarsError| format!("cannot read the file as Parquet: {e}");
        let mut reader = ParquetReader::new(file.try_clone().map_err(|e| e.to_string())?);
        let schema = reader.schema().map_err(unreadable)?;
        let columns = schema.iter_names().map(|name| name.to_string()).collect();
        let rows = reader.num_rows().map_err(unreadable)?;
        Ok(Self { file, columns, rows })
    }

    /// The column names, which serve as the header.
    pub(super) fn column_names(&self) -> Vec<String> {
        self.columns.clone()
    }

    /// Reads every row, a slice at a time, and hands them over as a CSV file's lines are;
    /// stops early when the writer has gone (it failed).
    pub(super) fn read_rows(&self, columns: &ColumnMap, options: &ImportOptions, sender: &LineSender) {
        let mut chunks = LineChunks::new(sender);
        let mut record = csv::StringRecord::new();
        for offset in (0..self.rows).step_by(SLICE_ROWS) {
            let cells = match self.slice_as_text(offset) {
                Ok(cells) => cells,
                Err(reason) => {
                    // The rest of the file cannot be read: one error says where reading stopped.
                    let line = ReadLine { line: offset as u64 + 1, counted: false, row: Err(reason) };
                    if chunks.push(line) {
                        chunks.finish();
                    }
                    return;
                }
            };
            let height = cells.first().map_or(0, StringChunked::len);
            for row in 0..height {
                record.clear();
                for column in &cells {
                    record.push_field(column.get(row).unwrap_or(""));
                }
                if record.iter().all(|cell| cell.trim().is_empty()) {
                    continue;
                }
                let line = (offset + row) as u64 + 1;
                if !chunks.push(ReadLine { line, counted: true, row: read_row(columns, &record, options) }) {
                    return;
                }
            }
        }
        chunks.finish();
    }

    /// The rows from `offset` (at most [`SLICE_ROWS`]), column by column, as text.
    fn slice_as_text(&self, offset: usize) -> Result<Vec<StringChunked>, String> {
        let unreadable =
            |e: polars::prelude::PolarsError| format!("cannot read rows from {}: {e}", offset + 1);
        let file = self.file.try_clone().map_err(|e| e.to_string())?;
        let frame =
            ParquetReader::new(file).with_slice(Some((offset, SLICE_ROWS))).finish().map_err(unreadable)?;
        frame.columns().iter().map(|column| as_text(column).map_err(unreadable)).collect()
    }
}

/// A column's values as CSV cells: dates (and the day of a timestamp) ISO, nulls empty. One
/// chunk, so that reading a cell by its row is a direct index.
fn as_text(column: &Column) -> polars::prelude::PolarsResult<StringChunked> {
    let column = match column.dtype() {
        DataType::Datetime(..) => column.cast(&DataType::Date)?,
        _ => column.clone(),
    };
    let text = column.cast(&DataType::String)?;
    Ok(text.str()?.rechunk().into_owned())
}
