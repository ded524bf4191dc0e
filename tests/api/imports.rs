//! CSV imports: the seed's sample files import cleanly; a dry run reports every problem by
//! row, column and field and writes nothing; `ALL_OR_NOTHING` and `VALID_ROWS`; duplicates
//! skipped, updated or failed; each row authorized as its create (a rep importing for
//! someone else is refused on that row); bounds; an export imports back unchanged.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, east_west, error_code};

const IMPORT: &str = "mutation($kind: RecordKind!, $file: Upload!, $mode: ImportMode, $dup: OnDuplicate, $mapping: [ImportMappingInput!]) {
  importCsv(kind: $kind, file: $file, mode: $mode, onDuplicate: $dup, mapping: $mapping) {
    rows created updated skipped failed committed
    errors { row column field code message }
    columns { column field }
    ignoredColumns
  }
}";

struct Fixture {
    app: TestApp,
    admin: String,
    manager: String,
    rep: String,
}

/// An admin; a manager of East with reps r1 and r2 in East; r3 in West.
async fn fixture(app: TestApp) -> Fixture {
    east_west(&app).await;
    Fixture {
        admin: app.login("admin@example.com", PASSWORD).await.0,
        manager: app.login("m1@example.com", PASSWORD).await.0,
        rep: app.login("r1@example.com", PASSWORD).await.0,
        app,
    }
}

async fn import(app: &TestApp, token: &str, kind: &str, csv: &str, vars: Value) -> Value {
    let mut variables = json!({ "kind": kind });
    if let Value::Object(extra) = vars {
        variables.as_object_mut().unwrap().extend(extra);
    }
    app.multipart_gql(
        Some(token),
        IMPORT,
        variables,
        "upload.csv",
        "text/csv",
        csv.as_bytes(),
    )
    .await
}

/// The report of a successful `importCsv`.
async fn report(app: &TestApp, token: &str, kind: &str, csv: &str, vars: Value) -> Value {
    let json = import(app, token, kind, csv, vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"]["importCsv"].clone()
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), query, vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"].clone()
}

async fn company_names(app: &TestApp, token: &str) -> Vec<String> {
    let data = ok(
        app,
        token,
        "{ companies(first: 100, orderBy: [{field: NAME, direction: ASC}]) { nodes { name } } }",
        json!({}),
    )
    .await;
    data["companies"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect()
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/examples/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test]
async fn the_seed_sample_files_import_cleanly() {
    let f = fixture(TestApp::new().await).await;
    let all = json!({"mode": "ALL_OR_NOTHING"});
    for (kind, file, rows) in [
        ("COMPANY", "companies.csv", 3),
        ("CONTACT", "contacts.csv", 2),
        ("DEAL", "deals.csv", 2),
    ] {
        let dry = report(&f.app, &f.rep, kind, &sample(file), json!({})).await;
        assert_eq!(
            (
                dry["created"].clone(),
                dry["committed"].clone(),
                dry["errors"].clone()
            ),
            (json!(rows), json!(false), json!([])),
            "{file}: {dry}"
        );
        let done = report(&f.app, &f.rep, kind, &sample(file), all.clone()).await;
        assert_eq!(
            (
                done["created"].clone(),
                done["failed"].clone(),
                done["committed"].clone()
            ),
            (json!(rows), json!(0), json!(true)),
            "{file}: {done}"
        );
        assert_eq!(
            done["ignoredColumns"],
            json!([]),
            "{file}: every column used"
        );
    }
    let data = ok(
        &f.app,
        &f.rep,
        "{ deals(first: 10, orderBy: [{field: TITLE, direction: ASC}]) { nodes { title amount stage expectedCloseDate owner { email } company { name website size } } }
           contacts(first: 10, orderBy: [{field: NAME, direction: ASC}]) { nodes { fullName email title company { name } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data["deals"]["nodes"],
        json!([
            {"title": "Enterprise License", "amount": "50000.00", "stage": "NEGOTIATION", "expectedCloseDate": "2027-12-15",
             "owner": {"email": "r1@example.com"}, "company": {"name": "Acme Corp", "website": "https://acme.com", "size": "SIZE_51_200"}},
            {"title": "Starter Package", "amount": "25000.00", "stage": "PROPOSAL", "expectedCloseDate": "2027-12-20",
             "owner": {"email": "r1@example.com"}, "company": {"name": "TechStart Inc", "website": "https://techstart.io", "size": "SIZE_11_50"}},
        ])
    );
    assert_eq!(
        data["contacts"]["nodes"],
        json!([
            // By last name.
            {"fullName": "Sarah Johnson", "email": "sarah@techstart.io", "title": "CEO", "company": {"name": "TechStart Inc"}},
            {"fullName": "John Smith", "email": "john@acme.com", "title": "VP of Sales", "company": {"name": "Acme Corp"}},
        ])
    );
    // Each committed import is in the audit log, with what it did; dry runs are not.
    let audit = ok(
        &f.app,
        &f.admin,
        "{ auditLog(first: 10, filter: {action: IMPORT_COMPLETED}) { nodes { actor { name } changes { field to } } } }",
        json!({}),
    )
    .await;
    let entries = audit["auditLog"]["nodes"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{audit}");
    let value = |entry: &Value, field: &str| {
        entry["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == field)
            .map(|c| c["to"].clone())
    };
    let deals_entry = entries
        .iter()
        .find(|e| value(e, "kind") == Some(json!("DEAL")))
        .expect("the deals import is audited");
    let value = |field: &str| value(deals_entry, field);
    assert_eq!(value("kind"), Some(json!("DEAL")));
    assert_eq!(value("created"), Some(json!(2)));
    assert_eq!(value("mode"), Some(json!("ALL_OR_NOTHING")));
    // And every record written is an ordinary create in the history.
    let history = ok(
        &f.app,
        &f.admin,
        "{ auditLog(first: 20, filter: {action: RECORD_CREATED, kind: DEAL}) { nodes { recordId } } }",
        json!({}),
    )
    .await;
    assert_eq!(history["auditLog"]["nodes"].as_array().unwrap().len(), 2);
}

/// Companies with one problem per row (and one good row between them).
const MIXED: &str = "Name,Industry,Phone,Website,Domain
Good One,Technology,+15551230001,https://good.example,good.example
Bad Industry,Mining,,,
,Finance,,,
Bad Phone,Retail,call me,,
Good Two,retail,+1 (555) 123-0002,good-two.example,
good one,Other,,,
Bad Web,Other,,ftp://x,bad.example
";

fn errors(report: &Value) -> Vec<(i64, String, String, String)> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap_or("").to_owned(),
                e["field"].as_str().unwrap_or("").to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_dry_run_names_row_column_and_field_then_both_modes() {
    let f = fixture(TestApp::new().await).await;
    let dry = report(&f.app, &f.rep, "COMPANY", MIXED, json!({"mode": "DRY_RUN"})).await;
    assert_eq!(dry["rows"], 7, "{dry}");
    assert_eq!(
        errors(&dry),
        vec![
            (
                3,
                "Industry".into(),
                "industry".into(),
                "BAD_USER_INPUT".into()
            ),
            (4, "Name".into(), "name".into(), "BAD_USER_INPUT".into()),
            (5, "Phone".into(), "phone".into(), "BAD_USER_INPUT".into()),
            // A duplicate within the file: the dry run sees the earlier row's company.
            (7, "Name".into(), "name".into(), "CONFLICT".into()),
            (
                8,
                "Website".into(),
                "website".into(),
                "BAD_USER_INPUT".into()
            ),
        ],
        "{dry}"
    );
    assert!(
        dry["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Technology"),
        "the message lists the choices: {dry}"
    );
    assert_eq!(
        (
            dry["created"].clone(),
            dry["failed"].clone(),
            dry["committed"].clone()
        ),
        (json!(2), json!(5), json!(false))
    );
    assert!(
        company_names(&f.app, &f.rep).await.is_empty(),
        "a dry run writes nothing"
    );

    let all = report(
        &f.app,
        &f.rep,
        "COMPANY",
        MIXED,
        json!({"mode": "ALL_OR_NOTHING"}),
    )
    .await;
    assert_eq!(
        (
            all["created"].clone(),
            all["failed"].clone(),
            all["committed"].clone()
        ),
        (json!(0), json!(5), json!(false)),
        "{all}"
    );
    assert_eq!(errors(&all), errors(&dry));
    assert!(
        company_names(&f.app, &f.rep).await.is_empty(),
        "all or nothing: nothing"
    );

    let valid = report(
        &f.app,
        &f.rep,
        "COMPANY",
        MIXED,
        json!({"mode": "VALID_ROWS"}),
    )
    .await;
    assert_eq!(
        (
            valid["created"].clone(),
            valid["failed"].clone(),
            valid["committed"].clone()
        ),
        (json!(2), json!(5), json!(true)),
        "{valid}"
    );
    assert_eq!(
        company_names(&f.app, &f.rep).await,
        vec!["Good One", "Good Two"]
    );
    let two = ok(
        &f.app,
        &f.rep,
        "{ companies(search: \"Two\") { nodes { phone website industry owner { email } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        two["companies"]["nodes"][0],
        json!({"phone": "+15551230002", "website": "https://good-two.example", "industry": "RETAIL", "owner": {"email": "r1@example.com"}})
    );
    // The rows now clash with what exists: the same errors plus two duplicates.
    let again = report(
        &f.app,
        &f.rep,
        "COMPANY",
        MIXED,
        json!({"mode": "VALID_ROWS"}),
    )
    .await;
    assert_eq!(
        (again["created"].clone(), again["failed"].clone()),
        (json!(0), json!(7))
    );
}

#[tokio::test]
async fn duplicates_are_skipped_updated_or_failed() {
    let f = fixture(TestApp::new().await).await;
    let seed = "name,domain,city\nAcme Corp,acme.com,Boston\nGlobex,globex.com,Springfield\n";
    report(
        &f.app,
        &f.rep,
        "COMPANY",
        seed,
        json!({"mode": "ALL_OR_NOTHING"}),
    )
    .await;
    // One row matches by name (other case), one by domain (other name), one is new.
    let file = "name,domain,city\nACME corp,,Chicago\nGlobex Corporation,GLOBEX.com,Denver\nInitech,initech.com,Austin\n";
    let skip = report(
        &f.app,
        &f.rep,
        "COMPANY",
        file,
        json!({"mode": "VALID_ROWS", "dup": "SKIP"}),
    )
    .await;
    assert_eq!(
        (
            skip["created"].clone(),
            skip["skipped"].clone(),
            skip["failed"].clone()
        ),
        (json!(1), json!(2), json!(0)),
        "{skip}"
    );
    let fail = report(
        &f.app,
        &f.rep,
        "COMPANY",
        file,
        json!({"mode": "DRY_RUN", "dup": "FAIL"}),
    )
    .await;
    assert_eq!(
        errors(&fail),
        vec![
            (2, "name".into(), "name".into(), "CONFLICT".into()),
            (3, "domain".into(), "domain".into(), "CONFLICT".into()),
            (4, "domain".into(), "domain".into(), "CONFLICT".into()),
        ],
        "{fail}"
    );
    let update = report(
        &f.app,
        &f.rep,
        "COMPANY",
        file,
        json!({"mode": "ALL_OR_NOTHING", "dup": "UPDATE"}),
    )
    .await;
    assert_eq!(
        (
            update["updated"].clone(),
            update["failed"].clone(),
            update["committed"].clone()
        ),
        (json!(3), json!(0), json!(true)),
        "{update}"
    );
    let data = ok(
        &f.app,
        &f.rep,
        "{ companies(first: 10, orderBy: [{field: NAME, direction: ASC}]) { nodes { name domain city } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data["companies"]["nodes"],
        json!([
            {"name": "ACME corp", "domain": "acme.com", "city": "Chicago"},
            {"name": "Globex Corporation", "domain": "globex.com", "city": "Denver"},
            {"name": "Initech", "domain": "initech.com", "city": "Austin"},
        ])
    );
    // Contacts: by email, ignoring case.
    let contacts = "First Name,Last Name,Email\nJohn,Smith,john@acme.com\n";
    report(
        &f.app,
        &f.rep,
        "CONTACT",
        contacts,
        json!({"mode": "ALL_OR_NOTHING"}),
    )
    .await;
    let again = "First Name,Last Name,Email,Title\nJohnny,Smith,JOHN@acme.com,CTO\n";
    let fail = report(&f.app, &f.rep, "CONTACT", again, json!({"mode": "DRY_RUN"})).await;
    assert_eq!(
        errors(&fail),
        vec![(2, "Email".into(), "email".into(), "CONFLICT".into())]
    );
    let update = report(
        &f.app,
        &f.rep,
        "CONTACT",
        again,
        json!({"mode": "VALID_ROWS", "dup": "UPDATE"}),
    )
    .await;
    assert_eq!(update["updated"], 1, "{update}");
    let data = ok(
        &f.app,
        &f.rep,
        "{ contacts { nodes { fullName title } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data["contacts"]["nodes"],
        json!([{"fullName": "Johnny Smith", "title": "CTO"}])
    );
}

#[tokio::test]
async fn each_row_is_authorized_as_its_create() {
    let f = fixture(TestApp::new().await).await;
    report(
        &f.app,
        &f.admin,
        "COMPANY",
        "name\nAcme Corp\n",
        json!({"mode": "ALL_OR_NOTHING"}),
    )
    .await;
    // The admin's company is not the rep's to read: a deal naming it fails like a missing one.
    let deals = "Title,Company,Owner,Amount\n\
                 Mine,Acme Corp,r1@example.com,100\n";
    let rep = report(&f.app, &f.rep, "DEAL", deals, json!({"mode": "DRY_RUN"})).await;
    assert_eq!(
        errors(&rep),
        vec![(
            2,
            "Company".into(),
            "company".into(),
            "BAD_USER_INPUT".into()
        )],
        "{rep}"
    );
    // A company the rep owns, then deals for the rep, a teammate and nobody.
    report(
        &f.app,
        &f.rep,
        "COMPANY",
        "name\nRep Co\n",
        json!({"mode": "ALL_OR_NOTHING"}),
    )
    .await;
    let deals = "Title,Company,Owner,Amount\n\
                 Mine,Rep Co,r1@example.com,100\n\
                 Teammate's,Rep Co,r2@example.com,200\n\
                 Nobody's,Rep Co,ghost@example.com,300\n\
                 Default owner,Rep Co,,400\n";
    let rep = report(&f.app, &f.rep, "DEAL", deals, json!({"mode": "VALID_ROWS"})).await;
    assert_eq!(
        errors(&rep),
        vec![
            (3, "Owner".into(), "owner".into(), "FORBIDDEN".into()),
            (4, "Owner".into(), "owner".into(), "BAD_USER_INPUT".into()),
        ],
        "{rep}"
    );
    assert_eq!(rep["created"], 2);
    // The manager may import for the team, not for another team's rep.
    report(
        &f.app,
        &f.manager,
        "COMPANY",
        "name\nTeam Co\n",
        json!({"mode": "ALL_OR_NOTHING"}),
    )
    .await;
    let deals = "Title,Company,Owner\n\
                 For r2,Team Co,r2@example.com\n\
                 For r3,Team Co,r3@example.com\n";
    let manager = report(
        &f.app,
        &f.manager,
        "DEAL",
        deals,
        json!({"mode": "VALID_ROWS"}),
    )
    .await;
    assert_eq!(
        errors(&manager),
        vec![(3, "Owner".into(), "owner".into(), "FORBIDDEN".into())],
        "{manager}"
    );
    let owners = ok(
        &f.app,
        &f.admin,
        "{ deals(first: 20, orderBy: [{field: TITLE, direction: ASC}]) { nodes { title owner { email } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        owners["deals"]["nodes"],
        json!([
            {"title": "Default owner", "owner": {"email": "r1@example.com"}},
            {"title": "For r2", "owner": {"email": "r2@example.com"}},
            {"title": "Mine", "owner": {"email": "r1@example.com"}},
        ])
    );
    // Activities: a type, a subject, a due time, an assignee by email, a deal by id.
    let deal = owners["deals"]["nodes"].as_array().unwrap().len();
    assert_eq!(deal, 3);
    let activities = "type,subject,due_at,assigned_to,priority\n\
                      Call,Intro call,2027-03-01 09:30,r1@example.com,High\n\
                      Meeting,,2027-03-02,,\n\
                      Fax,Old school,,,\n";
    let acts = report(
        &f.app,
        &f.rep,
        "ACTIVITY",
        activities,
        json!({"mode": "VALID_ROWS"}),
    )
    .await;
    assert_eq!(
        errors(&acts),
        vec![
            (
                3,
                "subject".into(),
                "subject".into(),
                "BAD_USER_INPUT".into()
            ),
            (4, "type".into(), "type".into(), "BAD_USER_INPUT".into()),
        ],
        "{acts}"
    );
    let data = ok(
        &f.app,
        &f.rep,
        "{ activities { nodes { type subject dueAt priority assignee { email } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data["activities"]["nodes"],
        json!([{"type": "CALL", "subject": "Intro call", "dueAt": "2027-03-01T09:30:00+00:00", "priority": "HIGH", "assignee": {"email": "r1@example.com"}}])
    );
}

#[tokio::test]
async fn mappings_bounds_and_requests_are_checked() {
    let app = TestApp::with_config(|c| {
        c.import_max_rows = 3;
        c.import_max_bytes = 200;
    })
    .await;
    let f = fixture(app).await;
    // An explicit mapping for a header no field matches.
    let file = "Organisation,Town\nAcme Corp,Boston\n";
    let mapped = report(
        &f.app,
        &f.rep,
        "COMPANY",
        file,
        json!({"mapping": [{"column": "organisation", "field": "name"}, {"column": "TOWN", "field": "city"}]}),
    )
    .await;
    assert_eq!(mapped["created"], 1, "{mapped}");
    assert_eq!(
        mapped["columns"],
        json!([{"column": "Organisation", "field": "name"}, {"column": "Town", "field": "city"}])
    );
    // Without it, the required field has no column.
    let json = import(&f.app, &f.rep, "COMPANY", file, json!({})).await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    assert_eq!(
        json["errors"][0]["extensions"]["field"], "mapping",
        "{json}"
    );
    let json = import(
        &f.app,
        &f.rep,
        "COMPANY",
        file,
        json!({"mapping": [{"column": "Organisation", "field": "colour"}, {"column": "Nope", "field": "city"}]}),
    )
    .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    let fields: Vec<&str> = json["errors"][0]["extensions"]["fields"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["mapping.0.field", "mapping.1.column"], "{json}");
    // Too many rows, too many bytes: refused before anything is written.
    let json = import(
        &f.app,
        &f.rep,
        "COMPANY",
        "name\na\nb\nc\nd\n",
        json!({"mode": "VALID_ROWS"}),
    )
    .await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "file", "{json}");
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("4 rows"),
        "{json}"
    );
    let big = format!("name\n{}\n", "x".repeat(300));
    let json = import(&f.app, &f.rep, "COMPANY", &big, json!({})).await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "file", "{json}");
    // Not CSV text, and not a kind that can be imported.
    let json = import(&f.app, &f.rep, "COMPANY", "", json!({})).await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "file", "{json}");
    let json = import(&f.app, &f.rep, "USER", "name\nx\n", json!({})).await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "kind", "{json}");
    // Invalid UTF-8 in one cell fails that row only.
    let bytes = b"name,city\nFine Co,Boston\nBroken Co,\xff\xfe\n".to_vec();
    let json = f
        .app
        .multipart_gql(
            Some(&f.rep),
            IMPORT,
            json!({"kind": "COMPANY"}),
            "latin1.csv",
            "text/csv",
            &bytes,
        )
        .await;
    assert_eq!(
        errors(&json["data"]["importCsv"]),
        vec![(3, "city".into(), "city".into(), "BAD_USER_INPUT".into())],
        "{json}"
    );
    // A NUL character in a cell fails that row, as text PostgreSQL would refuse.
    let json = import(
        &f.app,
        &f.rep,
        "COMPANY",
        "name,city\nNul Co,Bo\0ston\n",
        json!({}),
    )
    .await;
    assert_eq!(
        errors(&json["data"]["importCsv"]),
        vec![(2, "city".into(), "city".into(), "BAD_USER_INPUT".into())],
        "{json}"
    );
    // A file named in plain JSON (no multipart part behind it) is refused, not taken for one.
    for marker in ["#__graphql_file__:0", "#__graphql_file__:x"] {
        let (_, json) = f
            .app
            .gql(
                Some(&f.rep),
                IMPORT,
                json!({"kind": "COMPANY", "file": marker}),
            )
            .await;
        assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
        assert_eq!(json["errors"][0]["extensions"]["field"], "file", "{json}");
        let inline =
            format!("mutation {{ importCsv(kind: COMPANY, file: \"{marker}\") {{ rows }} }}");
        let (_, json) = f.app.gql(Some(&f.rep), &inline, json!({})).await;
        assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    }
    // Anonymous: refused.
    let json = f
        .app
        .multipart_gql(
            None,
            IMPORT,
            json!({"kind": "COMPANY"}),
            "a.csv",
            "text/csv",
            b"name\nx\n",
        )
        .await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{json}");
}

#[tokio::test]
async fn multipart_needs_the_preflight_header() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    let f = fixture(TestApp::new().await).await;
    let body = "--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{\"query\":\"{ __typename }\"}\r\n--b\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{}\r\n--b--\r\n";
    let request = |preflight: bool| {
        let mut r = Request::post("/graphql")
            .header("content-type", "multipart/form-data; boundary=b")
            .header("authorization", format!("Bearer {}", f.rep));
        if preflight {
            r = r.header("apollo-require-preflight", "true");
        }
        r.body(Body::from(body)).unwrap()
    };
    let (status, _, text) = f.app.request(request(false)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&text).contains("Apollo-Require-Preflight"));
    let (status, _, text) = f.app.request(request(true)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&text));
}

#[tokio::test]
async fn an_export_imports_back_unchanged() {
    let f = fixture(TestApp::new().await).await;
    let file = "name,phone,domain,city\n\"Acme, Inc.\",+15551230001,acme.com,\"New\nYork\"\n=Formula Co,,formula.example,@home\nBad Phone,-,bad.example,x\n";
    let first = report(
        &f.app,
        &f.manager,
        "COMPANY",
        file,
        json!({"mode": "VALID_ROWS"}),
    )
    .await;
    assert_eq!(first["failed"], 1, "the phone `-` is invalid: {first}");
    let before = ok(
        &f.app,
        &f.manager,
        "{ companies(first: 10) { nodes { name phone domain city } } }",
        json!({}),
    )
    .await;
    let export = ok(
        &f.app,
        &f.manager,
        "mutation { exportCompanies { downloadUrl } }",
        json!({}),
    )
    .await;
    let url = export["exportCompanies"]["downloadUrl"].as_str().unwrap();
    let (_, _, csv) = f
        .app
        .request(
            axum::http::Request::get(url)
                .header("authorization", format!("Bearer {}", f.manager))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("'+15551230001"), "exported guarded: {csv}");
    let back = report(
        &f.app,
        &f.manager,
        "COMPANY",
        &csv,
        json!({"mode": "ALL_OR_NOTHING", "dup": "UPDATE"}),
    )
    .await;
    assert_eq!(
        (back["updated"].clone(), back["failed"].clone()),
        (json!(2), json!(0)),
        "{back}"
    );
    let after = ok(
        &f.app,
        &f.manager,
        "{ companies(first: 10) { nodes { name phone domain city } } }",
        json!({}),
    )
    .await;
    assert_eq!(before, after);
    let names: Vec<&Value> = after["companies"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert!(
        names
            .iter()
            .any(|c| c["name"] == "=Formula Co" && c["city"] == "@home"),
        "{after}"
    );
    assert!(
        names
            .iter()
            .any(|c| c["phone"] == "+15551230001" && c["city"] == "New\nYork"),
        "{after}"
    );
}

#[tokio::test]
async fn non_ascii_names_match_as_the_unique_index_does() {
    let f = fixture(TestApp::new().await).await;
    let seed = "name,city\nÄrzte GmbH,Berlin\n";
    report(
        &f.app,
        &f.rep,
        "COMPANY",
        seed,
        json!({"mode": "ALL_OR_NOTHING"}),
    )
    .await;
    let again = "name,city\nÄRZTE GMBH,Hamburg\n";
    let skip = report(
        &f.app,
        &f.rep,
        "COMPANY",
        again,
        json!({"mode": "VALID_ROWS", "dup": "SKIP"}),
    )
    .await;
    assert_eq!(
        (skip["skipped"].clone(), skip["created"].clone()),
        (json!(1), json!(0)),
        "{skip}"
    );
    // Deals name it in any case of its ASCII letters (on SQLite `lower` folds only those).
    let deals = "title,company\nKlinik,ÄRZTE GMBH\nPraxis,Ärzte gmbh\n";
    let made = report(&f.app, &f.rep, "DEAL", deals, json!({"mode": "DRY_RUN"})).await;
    assert_eq!(made["created"], 2, "{made}");
}
