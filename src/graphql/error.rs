//! One error type for the GraphQL edge, mapped once to `extensions.code`.

use async_graphql::ErrorExtensions;

use crate::domain::FilterError;

/// Deliberately not `Display`: async-graphql converts anything displayable into an error
/// without a code, and this type must always carry one.
#[derive(Debug)]
pub enum ApiError {
    BadUserInput(String),
    Forbidden(String),
    /// Logged with its cause; the client sees only that something failed inside.
    Internal(String),
    /// Another writer holds what this request needs (an import's write lock): retry later.
    Busy(String),
    /// The database cannot be reached (an outage, a failover): logged with its cause; the
    /// client learns that retrying shortly is the remedy.
    DatabaseUnavailable(String),
}

impl ApiError {
    pub fn message(&self) -> String {
        match self {
            ApiError::BadUserInput(m) | ApiError::Forbidden(m) | ApiError::Busy(m) => m.clone(),
            ApiError::Internal(_) => "internal error".to_string(),
            ApiError::DatabaseUnavailable(_) => {
                "the database is unreachable right now; retry in a few seconds".to_string()
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::Busy(_) => "BUSY",
            ApiError::Internal(_) | ApiError::DatabaseUnavailable(_) => "INTERNAL",
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        match &error {
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error answering a GraphQL request")
            }
            ApiError::DatabaseUnavailable(cause) => tracing::warn!(%cause, "database unreachable"),
            _ => {}
        }
        let code = error.code();
        async_graphql::Error::new(error.message()).extend_with(|_, e| e.set("code", code))
    }
}

impl From<FilterError> for ApiError {
    fn from(error: FilterError) -> Self {
        match error {
            FilterError::OutsideScope { .. } => ApiError::Forbidden(error.to_string()),
            other => ApiError::BadUserInput(other.to_string()),
        }
    }
}

/// Whether a query failed because its connection broke (reset, closed, cut off mid-answer)
/// rather than because of the query: then the database is as good as unreachable.
fn connection_broke(error: &sea_orm::RuntimeErr) -> bool {
    use sea_orm::sqlx::Error;
    match error {
        sea_orm::RuntimeErr::SqlxError(error) => matches!(
            error.as_ref(),
            Error::Io(_)
                | Error::Tls(_)
                | Error::Protocol(_)
                | Error::PoolTimedOut
                | Error::PoolClosed
                | Error::WorkerCrashed
        ),
        _ => false,
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        match &error {
            sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_) => {
                ApiError::DatabaseUnavailable(error.to_string())
            }
            sea_orm::DbErr::Query(cause) | sea_orm::DbErr::Exec(cause) if connection_broke(cause) => {
                ApiError::DatabaseUnavailable(error.to_string())
            }
            _ => ApiError::internal(error),
        }
    }
}

impl From<crate::summary::SummaryError> for ApiError {
    fn from(error: crate::summary::SummaryError) -> Self {
        match error {
            crate::summary::SummaryError::Database(error) => error.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::summary::compare::CompareError> for ApiError {
    fn from(error: crate::summary::compare::CompareError) -> Self {
        match error {
            crate::summary::compare::CompareError::Summary(error) => error.into(),
            crate::summary::compare::CompareError::Invalid(message) => ApiError::BadUserInput(message),
        }
    }
}

/// An integer argument checked against its allowed range, naming the argument and the value.
pub fn in_range(name: &str, value: i32, range: std::ops::RangeInclusive<i32>) -> Result<usize, ApiError> {
    if range.contains(&value) {
        Ok(value as usize)
    } else {
        Err(ApiError::BadUserInput(format!(
            "`{name}` is {value}: it must be between {} and {}",
            range.start(),
            range.end()
        )))
    }
}

/// An error raised before execution (by an extension), with its code.
pub fn coded_server_error(code: &str, message: String) -> async_graphql::ServerError {
    let mut error = async_graphql::ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// The code for an error that async-graphql raised itself (parsing, validation, limits).
pub fn code_for_engine_error(message: &str) -> &'static str {
    let lower = message.to_ascii_lowercase();
    if lower.contains("nested too deep")
        || lower.contains("too complex")
        || lower.contains("too many")
        || lower.contains("recursion")
    {
        "QUERY_TOO_COMPLEX"
    } else {
        "BAD_USER_INPUT"
    }
}

/// The `extensions.code` of an error, when it has one.
pub fn code_of(error: &async_graphql::ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

/// Gives every error of a response an `extensions.code`.
pub fn ensure_codes(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let has_code = error.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if !has_code {
            let code = code_for_engine_error(&error.message);
            error.extensions.get_or_insert_with(Default::default).set("code", code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_are_classified() {
        assert_eq!(code_for_engine_error("Query is nested too deep."), "QUERY_TOO_COMPLEX");
        assert_eq!(code_for_engine_error("Query is too complex."), "QUERY_TOO_COMPLEX");
        assert_eq!(
            code_for_engine_error("The recursion depth of the query cannot be greater than `32`"),
            "QUERY_TOO_COMPLEX"
        );
        assert_eq!(code_for_engine_error("Unknown field \"x\" on type \"Query\"."), "BAD_USER_INPUT");
    }

    #[test]
    fn a_connection_that_breaks_mid_query_reads_as_an_outage_not_a_bug() {
        use std::sync::Arc;
        let failed = |error: sea_orm::sqlx::Error| {
            ApiError::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(Arc::new(error))))
        };
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        for broke in [failed(sea_orm::sqlx::Error::Io(reset)), failed(sea_orm::sqlx::Error::PoolTimedOut)] {
            assert!(matches!(broke, ApiError::DatabaseUnavailable(_)), "{broke:?}");
            assert!(broke.message().contains("unreachable"));
        }
        let bug = failed(sea_orm::sqlx::Error::RowNotFound);
        assert!(matches!(bug, ApiError::Internal(_)), "{bug:?}");
    }
}
