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
