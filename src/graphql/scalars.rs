use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar day as "YYYY-MM-DD" (ISO 8601), e.g. "2024-07-01".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar day, ISO 8601 ("2024-07-01"); ranges that use it are inclusive.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => {
                let date = crate::domain::parse_iso_day(text).ok_or_else(|| {
                    InputValueError::custom(format!("\"{text}\" is not a date (expected YYYY-MM-DD)"))
                })?;
                match crate::domain::date_out_of_range(date) {
                    Some(reason) => Err(InputValueError::custom(reason)),
                    None => Ok(Date(date)),
                }
            }
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(crate::domain::iso_date(self.0))
    }
}
