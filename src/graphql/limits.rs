//! A check that runs on the parsed document before async-graphql validates it: the number of
//! fields the query would resolve with every fragment spread in place. Validation and the
//! complexity count walk fragments once per spread, so a fragment bomb (each fragment spreading
//! the next twice) or ten thousand aliases cost them exponential or long work; counted here with
//! one memoized pass, such documents are refused in microseconds.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Value, Variables};

/// The deepest nesting of brackets (`{`, `[`, `(`) a query text may have: selections (at most
/// `SALESGRAPH_MAX_DEPTH` deep) plus the arguments' lists and objects. The parser and the
/// validator recurse once per level, so a deeper text is refused before either sees it.
pub const MAX_DOCUMENT_NESTING: usize = 64;

/// The deepest nesting of lists and objects in a variable's value.
pub const MAX_VALUE_NESTING: usize = 32;

/// What a list argument (`first`, `limit`) weighs in the complexity count: its value, or the
/// default when absent. A value outside `1..=max` weighs 1, so that the resolver refuses it
/// with an error naming the argument and its range instead of a bare "too complex".
pub fn list_weight(value: Option<i32>, default: i32, max: i32) -> usize {
    match value.unwrap_or(default) {
        v if (1..=max).contains(&v) => v as usize,
        _ => 1,
    }
}

/// How deep the brackets of a query text nest (strings and comments skipped), from one pass
/// over its bytes without recursion.
pub fn document_nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => i = skip_string(bytes, i),
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The index of the closing quote of the string that opens at `start` (or the end).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let block = bytes[start..].starts_with(b"\"\"\"");
    let mut i = start + if block { 3 } else { 1 };
    while i < bytes.len() {
        if bytes[i] == b'\\' && !block {
            i += 2;
            continue;
        }
        if block && bytes[i..].starts_with(b"\"\"\"") {
            return i + 2;
        }
        if !block && bytes[i] == b'"' {
            return i;
        }
        i += 1;
    }
    i
}

/// How deep the lists and objects of the variables nest, walked without recursion.
pub fn variables_nesting(variables: &Variables) -> usize {
    let mut deepest = 0;
    let mut pending: Vec<(&Value, usize)> = variables.values().map(|value| (value, 1)).collect();
    while let Some((value, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        match value {
            Value::List(items) => pending.extend(items.iter().map(|item| (item, depth + 1))),
            Value::Object(fields) => pending.extend(fields.values().map(|field| (field, depth + 1))),
            _ => {}
        }
    }
    deepest
}

/// Why a query text or its variables nest too deep to be parsed safely, if they do.
pub fn nesting_error(query: &str, variables: &Variables) -> Option<String> {
    let document = document_nesting(query);
    if document > MAX_DOCUMENT_NESTING {
        return Some(format!(
            "the query nests brackets {document} deep: at most {MAX_DOCUMENT_NESTING} levels of selections, lists and objects are allowed"
        ));
    }
    let values = variables_nesting(variables);
    (values > MAX_VALUE_NESTING).then(|| {
        format!("the variables nest {values} deep: at most {MAX_VALUE_NESTING} levels of lists and objects are allowed")
    })
}

/// Field selections written in the query text (aliases and repeats counted, fragments not
/// expanded), from one pass over its bytes: a lower bound of what it resolves, known before
/// the parser spends time on a huge document. Names in arguments, after `...`, `on`, `@`, `$`
/// or before a `:` (aliases, argument names) are not fields.
pub fn written_field_count(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut braces, mut parens, mut count, mut i) = (0usize, 0usize, 0usize, 0usize);
    let mut skip_next_name = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            // Strings, block strings included, are skipped whole.
            b'"' => i = skip_string(bytes, i),
            b'{' => braces += 1,
            b'}' => braces = braces.saturating_sub(1),
            b'(' => parens += 1,
            b')' => parens = parens.saturating_sub(1),
            b'.' | b'@' | b'$' => skip_next_name = true,
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                let name = &bytes[start..i];
                let mut next = i;
                while next < bytes.len() && (bytes[next] as char).is_ascii_whitespace() {
                    next += 1;
                }
                let alias = bytes.get(next) == Some(&b':');
                if braces > 0 && parens == 0 && !skip_next_name && !alias && name != b"on" {
                    count += 1;
                }
                skip_next_name = name == b"on";
                continue;
            }
            _ => {}
        }
        if !matches!(c, b'.' | b'@' | b'$') && !c.is_ascii_whitespace() {
            skip_next_name = false;
        }
        i += 1;
    }
    count
}

struct Expansion<'a> {
    document: &'a ExecutableDocument,
    fragments: HashMap<&'a str, u64>,
    in_progress: Vec<&'a str>,
}

impl<'a> Expansion<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> u64 {
        let mut total: u64 = 0;
        for selection in &set.items {
            let count = match &selection.node {
                Selection::Field(field) => {
                    1u64.saturating_add(self.selection_set(&field.node.selection_set.node))
                }
                Selection::InlineFragment(fragment) => self.selection_set(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => self.fragment(spread.node.fragment_name.node.as_str()),
            };
            total = total.saturating_add(count);
        }
        total
    }

    fn fragment(&mut self, name: &'a str) -> u64 {
        if let Some(count) = self.fragments.get(name) {
            return *count;
        }
        // A cycle is refused by validation; count it as nothing here rather than recursing.
        if self.in_progress.contains(&name) {
            return 0;
        }
        let Some(definition) = self.document.fragments.get(name) else { return 0 };
        self.in_progress.push(name);
        let count = self.selection_set(&definition.node.selection_set.node);
        self.in_progress.pop();
        self.fragments.insert(name, count);
        count
    }
}

/// Fields the document's operations would resolve with fragments expanded (saturating).
pub fn expanded_field_count(document: &ExecutableDocument) -> u64 {
    let mut expansion = Expansion { document, fragments: HashMap::new(), in_progress: Vec::new() };
    document
        .operations
        .iter()
        .map(|(_, operation)| expansion.selection_set(&operation.node.selection_set.node))
        .fold(0u64, u64::saturating_add)
}

/// True when an operation selects a root field that `is_wanted` accepts (directly, in an
/// inline fragment or in a spread fragment).
fn selects_at_root(document: &ExecutableDocument, is_wanted: impl Fn(&str) -> bool) -> bool {
    fn root_selects(
        document: &ExecutableDocument,
        set: &SelectionSet,
        seen: &mut Vec<String>,
        is_wanted: &dyn Fn(&str) -> bool,
    ) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(field) => is_wanted(field.node.name.node.as_str()),
            Selection::InlineFragment(fragment) => {
                root_selects(document, &fragment.node.selection_set.node, seen, is_wanted)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                if seen.contains(&name) {
                    return false;
                }
                seen.push(name);
                document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .is_some_and(|f| root_selects(document, &f.node.selection_set.node, seen, is_wanted))
            }
        })
    }
    document
        .operations
        .iter()
        .any(|(_, op)| root_selects(document, &op.node.selection_set.node, &mut Vec::new(), &is_wanted))
}

/// True when an operation asks for `__schema` or `__type` at its root.
pub fn asks_for_introspection(document: &ExecutableDocument) -> bool {
    selects_at_root(document, |name| matches!(name, "__schema" | "__type"))
}

/// True when an operation reads `me`: its answer differs between viewers of the same role and
/// regions, so it must not be shared through the response cache.
pub fn reads_the_viewer(document: &ExecutableDocument) -> bool {
    selects_at_root(document, |name| name == "me")
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn count(query: &str) -> u64 {
        expanded_field_count(&parse_query(query).expect("parses"))
    }

    #[test]
    fn fields_aliases_and_fragments_are_counted_as_resolved() {
        assert_eq!(count("{ me { role subject } }"), 3);
        assert_eq!(count("{ a: me { role } b: me { role } }"), 4);
        assert_eq!(count("{ ...F ...F } fragment F on Query { me { role } }"), 4);
        assert_eq!(count("{ ... on Query { models { name } } }"), 2);
    }

    #[test]
    fn written_fields_are_counted_without_parsing() {
        assert_eq!(written_field_count("{ me { role subject } }"), 3);
        assert_eq!(written_field_count("{ a: me { role } b: me { role } }"), 4);
        assert_eq!(
            written_field_count("query Q($x: Int) { topModels(limit: $x, metric: REVENUE) { units } }"),
            2
        );
        assert_eq!(written_field_count("{ ...F @include(if: true) } fragment F on Query { me { role } }"), 2);
        assert_eq!(
            written_field_count("{ ask(question: \"top { models } here\") { notes } } # { a b c }"),
            2
        );
        assert_eq!(written_field_count("{ ... on Query { models { name } } }"), 2);
        let aliases: String = (0..10_000).map(|i| format!(" a{i}: me {{ role }}")).collect();
        assert_eq!(written_field_count(&format!("{{{aliases} }}")), 20_000);
    }

    #[test]
    fn introspection_is_noticed_wherever_it_hides() {
        let asks = |q: &str| asks_for_introspection(&parse_query(q).expect("parses"));
        assert!(asks("{ __schema { types { name } } }"));
        assert!(asks("query Q { me { role } ... on Query { __type(name: \"Sale\") { name } } }"));
        assert!(asks("{ ...F } fragment F on Query { __schema { queryType { name } } }"));
        assert!(!asks("{ me { role __typename } }"));
        let reads = |q: &str| reads_the_viewer(&parse_query(q).expect("parses"));
        assert!(reads("{ ...F } fragment F on Query { me { subject } }"));
        assert!(reads("{ x: me { subject } }"));
        assert!(!reads("{ models { name } }"));
    }

    #[test]
    fn nesting_is_measured_without_recursing_and_strings_do_not_count() {
        assert_eq!(document_nesting("{ me { role } }"), 2);
        assert_eq!(document_nesting("{ trend(filter: {countries: [\"DE\"]}) { direction } }"), 4);
        assert_eq!(document_nesting("{ ask(question: \"{{{[[[\") { notes } } # {{{{"), 2);
        assert_eq!(document_nesting("{ a(x: \"\"\" {[( \"\"\") }"), 2);
        let deep = format!("{{ me(x: {}1{}) }}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(document_nesting(&deep), 100_002);
        assert!(nesting_error(&deep, &Variables::default()).is_some_and(|m| m.contains("100002")));

        let mut value = serde_json::json!("DE");
        for _ in 0..40 {
            value = serde_json::json!([value]);
        }
        let variables = Variables::from_json(serde_json::json!({ "c": value }));
        assert_eq!(variables_nesting(&variables), 41);
        assert!(nesting_error("{ me { role } }", &variables).is_some_and(|m| m.contains("variables")));
        assert_eq!(nesting_error("{ me { role } }", &Variables::default()), None);
    }

    #[test]
    fn a_fragment_bomb_is_counted_without_expanding_it() {
        let mut query = String::from("{ ...f0 }\n");
        for level in 0..70 {
            query.push_str(&format!(
                "fragment f{level} on Query {{ ...f{next} ...f{next} }}\n",
                next = level + 1
            ));
        }
        query.push_str("fragment f70 on Query { me { role } }\n");
        assert_eq!(count(&query), u64::MAX, "2^71 fields saturate");
        let cyclic = "{ ...a } fragment a on Query { ...b } fragment b on Query { ...a me { role } }";
        assert_eq!(count(cyclic), 2);
    }
}
