//! A bounded fuzz run of the request limits: proptest generates deep and wide documents,
//! filters and variables (valid or not); every answer must be a clean GraphQL response —
//! never a crash, never `INTERNAL`, never a 5xx.

use crm_testkit::Org;
use entity::enums::{DealStage, Role};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Value as Json, json};

use crate::helpers::{PASSWORD, TestApp};

/// Any JSON scalar a client might send, including hostile strings.
fn scalar() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        "[a-zA-Z0-9 %_\\\\'\"\u{0}\u{1F600}-]{0,40}".prop_map(Json::from),
        (1usize..70_000).prop_map(|n| Json::from("x".repeat(n))),
        prop_oneof![
            Just("PROPOSAL"),
            Just("CLOSED_WON"),
            Just("99999999999999999999.99"),
            Just("-1"),
            Just("2026-13-45"),
            Just("1e400"),
            Just("00000000-0000-0000-0000-000000000000"),
        ]
        .prop_map(Json::from),
    ]
}

const FIELDS: &[&str] = &[
    "title",
    "stage",
    "amount",
    "createdAt",
    "expectedCloseDate",
    "ownerId",
    "companyId",
    "priority",
    "source",
    "bogus",
];
const OPS: &[&str] = &[
    "eq",
    "ne",
    "in",
    "notIn",
    "lt",
    "lte",
    "gt",
    "gte",
    "isNull",
    "contains",
    "startsWith",
];

/// A `DealFilter`-shaped value: valid or nearly so, nested and wide.
fn filter() -> impl Strategy<Value = Json> {
    let leaf = (
        prop::sample::select(FIELDS),
        prop::sample::select(OPS),
        prop_oneof![
            3 => scalar(),
            1 => prop::collection::vec(scalar(), 0..40).prop_map(Json::from),
            1 => (0usize..2_000).prop_map(|n| Json::from(vec![Json::from("t"); n])),
        ],
    )
        .prop_map(|(f, op, v)| json!({ f: { op: v } }));
    // Wide `or`s are generated flat: cloning a generated subtree hundreds of times makes
    // documents of hundreds of MB that only time the test's own JSON encoder.
    let wide = (0usize..700).prop_map(|n| json!({ "or": vec![json!({"title": {"eq": "x"}}); n] }));
    let nested = leaf.prop_recursive(30, 300, 12, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| json!({ "not": f })),
            prop::collection::vec(inner.clone(), 0..12).prop_map(|l| json!({ "and": l })),
            prop::collection::vec(inner, 0..12).prop_map(|l| json!({ "or": l })),
        ]
    });
    prop_oneof![4 => nested, 1 => wide]
}

/// A JSON value as a GraphQL literal (enum-looking strings stay strings: both kinds of
/// mistakes are welcome here).
fn literal(v: &Json) -> String {
    match v {
        Json::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}: {}", literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Json::Array(l) => format!("[{}]", l.iter().map(literal).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// A selection set: fields (some aliased, some with arguments), fragments inline.
fn selection() -> impl Strategy<Value = String> {
    let names = prop::sample::select(
        &[
            "deals",
            "companies",
            "me",
            "__typename",
            "nodes",
            "totalCount",
            "id",
            "title",
            "amount",
            "edges",
            "node",
            "pageInfo",
            "endCursor",
            "__schema",
            "types",
            "name",
            "pipeline",
            "stage",
            "count",
        ][..],
    );
    let field = (
        names.clone(),
        prop::option::of("[a-z][a-z0-9]{0,3}"),
        prop::option::of(0i64..200),
    )
        .prop_map(|(n, alias, first)| {
            let alias = alias.map(|a| format!("{a}: ")).unwrap_or_default();
            let args = first.map(|f| format!("(first: {f})")).unwrap_or_default();
            format!("{alias}{n}{args}")
        });
    field.prop_recursive(30, 300, 8, move |inner| {
        (
            names.clone(),
            prop::collection::vec(inner, 1..8),
            any::<bool>(),
        )
            .prop_map(|(n, children, inline)| {
                let body = children.join(" ");
                if inline {
                    format!("... on Query {{ {body} }}")
                } else {
                    format!("{n} {{ {body} }}")
                }
            })
    })
}

/// One generated request.
#[derive(Debug, Clone)]
enum Case {
    FilterVariable(Json),
    FilterLiteral(Json),
    Document(Vec<String>),
    Garbage(String),
    Aliases(usize),
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        3 => filter().prop_map(Case::FilterVariable),
        2 => filter().prop_map(Case::FilterLiteral),
        2 => prop::collection::vec(selection(), 1..20).prop_map(Case::Document),
        1 => "[{}\\[\\]()a-z:$!@\"#\\n ]{0,2000}".prop_map(Case::Garbage),
        1 => (0usize..3000).prop_map(Case::Aliases),
    ]
}

fn request(case: &Case) -> (String, Json) {
    let deals = "query($f: DealFilter) { deals(filter: $f, first: 5) { totalCount nodes { id amount } } pipeline(filter: $f) { stage totalAmount } }";
    match case {
        Case::FilterVariable(f) => (deals.to_owned(), json!({ "f": f })),
        Case::FilterLiteral(f) => (
            format!("{{ deals(filter: {}) {{ totalCount }} }}", literal(f)),
            json!({}),
        ),
        Case::Document(fields) => (format!("{{ {} }}", fields.join(" ")), json!({})),
        Case::Garbage(s) => (s.clone(), json!({})),
        Case::Aliases(n) => (
            format!(
                "{{ {} }}",
                (0..*n)
                    .map(|i| format!("a{i}: deals {{ totalCount }}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            json!({}),
        ),
    }
}

#[tokio::test]
async fn generated_documents_and_variables_never_crash_or_answer_internal() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let company = org
        .company()
        .name("Acme")
        .owner(rep.id)
        .insert(&app.db)
        .await;
    for (i, stage) in [
        DealStage::Proposal,
        DealStage::ClosedWon,
        DealStage::Prospecting,
    ]
    .into_iter()
    .enumerate()
    {
        org.deal()
            .company(company.id)
            .owner(rep.id)
            .title(format!("Deal {i}"))
            .amount_cents(100_000)
            .stage(stage)
            .insert(&app.db)
            .await;
    }
    let (token, _) = app.login("rep@example.com", PASSWORD).await;

    // A fixed seed keeps CI reproducible; `PROPTEST_CASES` runs more locally.
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new_with_rng(
        RunnerConfig {
            cases,
            ..RunnerConfig::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let strategy = case();
    for n in 0..cases {
        let case = strategy.new_tree(&mut runner).expect("generate").current();
        let (query, variables) = request(&case);
        let who = if n % 3 == 0 {
            None
        } else {
            Some(token.as_str())
        };
        let (status, json) = app.gql(who, &query, variables).await;
        assert!(
            !status.is_server_error(),
            "case {n}: {status} for {case:?}: {json}"
        );
        let internal = json["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["extensions"]["code"] == "INTERNAL");
        assert!(!internal, "case {n}: INTERNAL for {case:?}: {json}");
        if status.is_success() {
            assert!(
                json.get("data").is_some() || json.get("errors").is_some(),
                "case {n}: not a GraphQL response: {json}"
            );
        }
    }
    // Still serving.
    let (_, json) = app.gql(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(json["data"]["me"]["id"], rep.id.to_string());
}
