//! The checked-in SDL is what the code generates.

#[test]
fn schema_graphql_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = api::export_sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date with the code.\n\
         Regenerate it with: cargo run -p api -- export-schema > schema.graphql"
    );
}

#[test]
fn every_type_and_field_is_documented() {
    let sdl = api::export_sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).expect("SDL parses");
    let mut missing = Vec::new();
    for def in doc.definitions {
        if let async_graphql::parser::types::TypeSystemDefinition::Type(t) = def {
            let t = t.node;
            let name = t.name.node.to_string();
            if t.description.is_none() {
                missing.push(name.clone());
            }
            if let async_graphql::parser::types::TypeKind::Object(o) = &t.kind {
                for f in &o.fields {
                    if f.node.description.is_none() {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented in the SDL: {missing:?}");
}
