//! A check that runs on the parsed document before async-graphql validates it: the number of
//! fields the query would resolve with every fragment spread in place. Validation and the
//! complexity count walk fragments once per spread, so a fragment bomb (each fragment spreading
//! the next twice) or ten thousand aliases cost them exponential or long work; counted here with
//! one memoized pass, such documents are refused in microseconds.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

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
