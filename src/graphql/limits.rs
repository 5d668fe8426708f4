//! A check that runs on the parsed document before async-graphql validates it: the number of
//! fields the query would resolve with every fragment spread in place. Validation and the
//! complexity count walk fragments once per spread, so a fragment bomb (each fragment spreading
//! the next twice) or ten thousand aliases cost them exponential or long work; counted here with
//! one memoized pass, such documents are refused in microseconds.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

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
            b'"' => {
                // Strings, block strings included, are skipped whole.
                let block = bytes[i..].starts_with(b"\"\"\"");
                i += if block { 3 } else { 1 };
                while i < bytes.len() {
                    if bytes[i] == b'\\' && !block {
                        i += 2;
                        continue;
                    }
                    if block && bytes[i..].starts_with(b"\"\"\"") {
                        i += 2;
                        break;
                    }
                    if !block && bytes[i] == b'"' {
                        break;
                    }
                    i += 1;
                }
            }
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

/// True when an operation asks for `__schema` or `__type` at its root (directly, in an inline
/// fragment or in a spread fragment).
pub fn asks_for_introspection(document: &ExecutableDocument) -> bool {
    fn root_asks(document: &ExecutableDocument, set: &SelectionSet, seen: &mut Vec<String>) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(field) => matches!(field.node.name.node.as_str(), "__schema" | "__type"),
            Selection::InlineFragment(fragment) => {
                root_asks(document, &fragment.node.selection_set.node, seen)
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
                    .is_some_and(|f| root_asks(document, &f.node.selection_set.node, seen))
            }
        })
    }
    document
        .operations
        .iter()
        .any(|(_, op)| root_asks(document, &op.node.selection_set.node, &mut Vec::new()))
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
