#[test]
fn schema_graphql_is_the_output_of_salesgraph_schema() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql at the repository root");
    let output =
        std::process::Command::new(env!("CARGO_BIN_EXE_salesgraph")).arg("schema").output().expect("run");
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).expect("utf-8");
    assert_eq!(printed, salesgraph::graphql::sdl());
    assert!(
        committed == printed,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

/// Connection wrappers async-graphql generates; their fields (edges, pageInfo) are documented.
const GENERATED: &[&str] = &["SaleConnection", "SalesAggregateConnection"];

/// What async-graphql adds for Apollo Federation (`_service`, `_entities` and their types),
/// described by the federation specification rather than by this schema.
fn federation_spec(coordinate: &str) -> bool {
    coordinate.starts_with('_') || coordinate.starts_with("Query._")
}

#[test]
fn every_type_field_argument_and_enum_value_is_described() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let document = async_graphql::parser::parse_schema(salesgraph::graphql::sdl()).expect("the SDL parses");
    let mut missing = Vec::new();
    let mut check = |what: String, description: &Option<async_graphql::Positioned<String>>| {
        if description.as_ref().is_none_or(|d| d.node.trim().is_empty()) && !federation_spec(&what) {
            missing.push(what);
        }
    };
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else { continue };
        let ty = &ty.node;
        let name = ty.name.node.to_string();
        if !GENERATED.contains(&name.as_str()) {
            check(name.clone(), &ty.description);
        }
        match &ty.kind {
            TypeKind::Object(object) => {
                for field in &object.fields {
                    let field = &field.node;
                    check(format!("{name}.{}", field.name.node), &field.description);
                    for argument in &field.arguments {
                        check(
                            format!("{name}.{}({})", field.name.node, argument.node.name.node),
                            &argument.node.description,
                        );
                    }
                }
            }
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    check(format!("{name}.{}", field.node.name.node), &field.node.description);
                }
            }
            TypeKind::Enum(values) => {
                for value in &values.values {
                    check(format!("{name}.{}", value.node.value.node), &value.node.description);
                }
            }
            _ => {}
        }
    }
    assert!(missing.is_empty(), "undocumented in the schema: {missing:#?}");
}
