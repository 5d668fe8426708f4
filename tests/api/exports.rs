//! Flat exports: an answer's first list as CSV or Parquet (by `Accept` or `format=`), holding
//! the JSON answer's rows and values, under the same policy, and read back by pandas and pyarrow.

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use salesgraph::auth::Role;
use serde_json::{Value, json};

use super::clients::clients_dir;
use super::common::TestServer;

/// GETs `query` with `accept`; returns status, content type and body.
async fn get(server: &TestServer, token: &str, query: &str, accept: &str) -> (u16, String, Vec<u8>) {
    let response = server
        .request(Method::GET, "/graphql")
        .query(&[("query", query)])
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(ACCEPT, accept)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let content_type =
        response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, content_type, response.bytes().await.expect("body").to_vec())
}

fn csv_records(body: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(body);
    let header = reader.headers().expect("a header").iter().map(str::to_string).collect();
    let records =
        reader.records().map(|r| r.expect("a record").iter().map(str::to_string).collect()).collect();
    (header, records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_export_holds_the_json_answers_rows_and_parquet_is_written_for_format_parquet() {
    let server = super::seeded_server(300).await;
    let token = server.admin_token();
    let query = "{ topModels(limit: 5) { rank model { name bodyType } units revenue share } }";
    let data = server.data(query, json!({})).await;
    let top = data["topModels"].as_array().expect("a ranking");
    assert_eq!(top.len(), 5);

    let (status, content_type, body) = get(&server, &token, query, "text/csv").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let (header, records) = csv_records(&body);
    assert_eq!(header, ["rank", "model.name", "model.bodyType", "units", "revenue", "share"]);
    assert_eq!(records.len(), top.len());
    for (record, row) in records.iter().zip(top) {
        assert_eq!(record[0], row["rank"].to_string());
        assert_eq!(record[1], row["model"]["name"].as_str().expect("name"));
        assert_eq!(record[2], row["model"]["bodyType"].as_str().expect("body type"));
        assert_eq!(record[3], row["units"].to_string());
        for (at, key) in [(4, "revenue"), (5, "share")] {
            let written: f64 = record[at].parse().expect("a plain number");
            assert_eq!(written, row[key].as_f64().expect("a number"), "{key} is written exactly");
        }
    }

    let response = server
        .request(Method::POST, "/graphql?format=parquet")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/vnd.apache.parquet");
    let disposition = response.headers()["content-disposition"].to_str().expect("ascii").to_string();
    assert!(disposition.contains("topModels.parquet"), "{disposition}");
    let parquet = response.bytes().await.expect("body");
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"), "a Parquet file");

    // `format=csv` in a static URL, for tools that cannot set headers.
    let response = server
        .request(Method::GET, "/graphql")
        .query(&[("format", "csv"), ("query", query)])
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let (header_again, records_again) = csv_records(&response.bytes().await.expect("body"));
    assert_eq!((header_again, records_again), csv_records(&body));

    // A client listing JSON first still gets JSON.
    let (_, content_type, _) = get(&server, &token, query, "application/json, text/csv").await;
    assert!(content_type.starts_with("application/json"), "{content_type}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_keep_the_policy_and_name_what_cannot_be_a_table() {
    let server = super::seeded_server(300).await;
    // An analyst's money column: the refusal, in JSON with its code, never a table without it.
    let analyst = server.token(Role::Analyst, &[]);
    let (status, content_type, body) =
        get(&server, &analyst, "{ models { name basePrice } }", "text/csv").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");

    // A manager's export holds its regions' rows only, as its JSON answer does.
    let europe = server.token(Role::Manager, &["Europe"]);
    let query = "{ sales(first: 80) { edges { node { id country { code region } units } } } }";
    let (status, _, body) = get(&server, &europe, query, "text/csv").await;
    assert_eq!(status, 200);
    let (header, records) = csv_records(&body);
    assert_eq!(header, ["node.id", "node.country.code", "node.country.region", "node.units"]);
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r[2] == "Europe"), "a row outside the manager's regions");
    let (_, _, json_answer) = server.post(Some(&europe), query, json!({})).await;
    let ids: Vec<String> = json_answer["data"]["sales"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(records.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), ids);

    // An answer without a list, and a format salesgraph does not write.
    let admin = server.admin_token();
    let (status, _, body) = get(&server, &admin, "{ dataStatus { version } }", "text/csv").await;
    assert_eq!(status, 406);
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("no list"), "{body}");
    let response = server
        .request(Method::GET, "/graphql?format=xlsx&query=%7B%20models%20%7B%20name%20%7D%20%7D")
        .header(AUTHORIZATION, format!("Bearer {admin}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("format=xlsx"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pandas_and_pyarrow_read_the_exports_with_the_json_answers_values_and_types() {
    let script = clients_dir().join("exports.py");
    if !super::clients::python_has("pandas, pyarrow", "read exports with pandas") {
        return;
    }
    let server = super::seeded_server(400).await;
    let output = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(format!("{}/graphql", server.base))
        .arg(server.admin_token())
        .output()
        .await
        .expect("python3 runs");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(output.status.success(), "{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.contains("checks pass"), "{report}");
}
