//! Parsed query documents by their text. Dashboards send the same few queries over and over,
//! and `ask` writes a few dozen fixed shapes: parsing one (pest) and counting its fields for the
//! limits cost more than a cached answer, so each distinct text is parsed once and its document
//! cloned for every execution after.

use std::sync::Arc;

use async_graphql::parser::types::{ExecutableDocument, OperationType};

use super::limits;

/// Distinct query texts remembered, and the longest text remembered: a client sending ever new
/// texts pushes out old ones, never more than about 8 MiB of them.
const REMEMBERED: u64 = 1_000;
const LONGEST_REMEMBERED: usize = 8 * 1024;

/// What one query text says, before any validation against the schema.
#[derive(Debug)]
pub struct ParsedQuery {
    pub document: ExecutableDocument,
    /// Fields as written ([`limits::written_field_count`]).
    pub written_fields: usize,
    /// Fields once aliases and fragments are expanded ([`limits::expanded_field_count`]).
    pub expanded_fields: u64,
    pub asks_for_introspection: bool,
    /// Whether it reads `me` (answers that differ per viewer are never cached).
    pub reads_the_viewer: bool,
    /// Whether every operation is a query (no mutation, no subscription).
    pub queries_only: bool,
}

impl ParsedQuery {
    /// The type and name of the operation a request runs: the one it names, or the document's
    /// only operation. `None` when the request names none of several, or one the document lacks.
    pub fn operation(&self, requested: Option<&str>) -> Option<(OperationType, Option<&str>)> {
        let mut operations = self.document.operations.iter();
        match requested {
            Some(requested) => operations
                .find(|(name, _)| name.is_some_and(|name| name.as_str() == requested))
                .map(|(name, operation)| (operation.node.ty, name.map(|name| name.as_str()))),
            None => match (operations.next(), operations.next()) {
                (Some((name, operation)), None) => Some((operation.node.ty, name.map(|name| name.as_str()))),
                _ => None,
            },
        }
    }
}

#[derive(Clone)]
pub struct ParsedQueries {
    memo: moka::sync::Cache<String, Arc<ParsedQuery>>,
}

impl Default for ParsedQueries {
    fn default() -> Self {
        Self { memo: moka::sync::Cache::new(REMEMBERED) }
    }
}

/// Why a text has no [`ParsedQuery`].
#[derive(Debug, PartialEq, Eq)]
pub enum NotParsed {
    /// More fields written than `max_fields`: refused before parsing it.
    TooManyFields(usize),
    /// Not a GraphQL document: the schema names the error when it parses it itself.
    Invalid,
    /// Brackets nested deeper than the parser may safely recurse: refused unparsed.
    TooDeep(String),
}

impl ParsedQueries {
    /// The text's parsed query, parsed now when not remembered. A text with more than
    /// `max_fields` fields written is refused unparsed.
    pub fn get(&self, query: &str, max_fields: usize) -> Result<Arc<ParsedQuery>, NotParsed> {
        if let Some(known) = self.memo.get(query) {
            return Ok(known);
        }
        if let Some(message) = limits::nesting_error(query, &Default::default()) {
            return Err(NotParsed::TooDeep(message));
        }
        let written_fields = limits::written_field_count(query);
        if written_fields > max_fields {
            return Err(NotParsed::TooManyFields(written_fields));
        }
        let document = async_graphql::parser::parse_query(query).map_err(|_| NotParsed::Invalid)?;
        let parsed = Arc::new(ParsedQuery {
            written_fields,
            expanded_fields: limits::expanded_field_count(&document),
            asks_for_introspection: limits::asks_for_introspection(&document),
            reads_the_viewer: limits::reads_the_viewer(&document),
            queries_only: document.operations.iter().all(|(_, op)| op.node.ty == OperationType::Query),
            document,
        });
        if query.len() <= LONGEST_REMEMBERED {
            self.memo.insert(query.to_string(), parsed.clone());
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_its_counts_kept() {
        let queries = ParsedQueries::default();
        let text = "{ a: topModels { units } b: topModels { units } }";
        let first = queries.get(text, 100).unwrap();
        let again = queries.get(text, 100).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "the second request reuses the parse");
        assert_eq!((first.written_fields, first.expanded_fields), (4, 4));
        assert!(first.queries_only && !first.asks_for_introspection);
        let mutation = queries.get("mutation { importSales(csv: \"\") { landed } }", 100).unwrap();
        assert!(!mutation.queries_only);
        assert!(queries.get("{ __schema { types { name } } }", 100).unwrap().asks_for_introspection);
        assert_eq!(first.operation(None), Some((OperationType::Query, None)));
        assert_eq!(mutation.operation(None), Some((OperationType::Mutation, None)));
    }

    #[test]
    fn the_operation_a_request_runs_is_the_one_it_names_or_the_only_one() {
        let queries = ParsedQueries::default();
        let named = queries.get("query Top { topModels { units } }", 100).unwrap();
        assert_eq!(named.operation(None), Some((OperationType::Query, Some("Top"))));
        assert_eq!(named.operation(Some("Top")), Some((OperationType::Query, Some("Top"))));
        assert_eq!(named.operation(Some("Other")), None);
        let two = queries
            .get("query A { topModels { units } } subscription B { salesLive { units } }", 100)
            .unwrap();
        assert_eq!(two.operation(Some("B")), Some((OperationType::Subscription, Some("B"))));
        assert_eq!(two.operation(None), None);
    }

    #[test]
    fn oversized_and_broken_texts_are_refused_and_not_remembered() {
        let queries = ParsedQueries::default();
        assert_eq!(queries.get("{ a b c }", 2).unwrap_err(), NotParsed::TooManyFields(3));
        assert_eq!(queries.get("{ a ", 100).unwrap_err(), NotParsed::Invalid);
        let long = format!("{{ {} }}", "x ".repeat(LONGEST_REMEMBERED));
        let first = queries.get(&long, 100_000).unwrap();
        assert!(!Arc::ptr_eq(&first, &queries.get(&long, 100_000).unwrap()), "too long to remember");
    }
}
