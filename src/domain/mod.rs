//! Plain domain types shared by every layer: the dimensions' enumerations, the sales filter and
//! the shapes of aggregate requests.

mod enums;
pub mod filter;

pub use enums::{BodyType, DatePrecision, FuelType, ParseEnumError, Transmission};
pub use filter::{FilterError, ResolvedFilter, SalesFilter, Scope};
