//! Every limit of api.md tripped against the real server, each with its code; and tokens that
//! try to get past authentication.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use salesgraph::auth::Role;
use serde_json::{Value, json};

use super::common::{TEST_SECRET, TestDb, TestServer};

const PRIVATE_PEM: &[u8] = include_bytes!("../fixtures/jwt-test-rs256-private.pem");
const PUBLIC_PEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt-test-rs256-public.pem");

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("<none>")
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_complexity_aliases_and_fragment_bombs_are_refused_before_resolving() {
    let server = TestServer::start(TestDb::new().await).await;
    let admin = server.admin_token();
    let queries_before = server.context.store.queries_run();

    let mut deep = String::from("{ __schema { types { fields { type ");
    for _ in 0..45 {
        deep.push_str("{ ofType ");
    }
    deep.push_str("{ name }");
    deep.push_str(&" }".repeat(45 + 4));
    let mut aliases = String::from("{");
    for i in 0..10_000 {
        aliases.push_str(&format!(" a{i}: me {{ role }}"));
    }
    aliases.push('}');
    let mut bomb = String::from("{ ...f0 }\n");
    for level in 0..40 {
        bomb.push_str(&format!("fragment f{level} on Query {{ ...f{n} ...f{n} }}\n", n = level + 1));
    }
    bomb.push_str("fragment f40 on Query { models { name } }\n");
    let complex = "{ topModels(limit: 5000) { units } }".to_string();
    let too_deep_for_the_schema = "{ sales { edges { node { model { name } country { name } } } } }";

    for (name, query) in [
        ("depth 50", &deep),
        ("10,000 aliases", &aliases),
        ("fragment bomb", &bomb),
        ("complexity", &complex),
    ] {
        assert!(query.len() < 256 * 1024, "{name} fits the body limit");
        let (status, _, body) = server.post(Some(&admin), query, json!({})).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{name}: {body}");
        assert!(body["data"].is_null(), "{name}: {body}");
    }
    assert_eq!(server.context.store.queries_run(), queries_before, "no resolver ran");

    let shallow = TestServer::start_with(TestDb::new().await, |s| s.max_depth = 4).await;
    let (_, _, body) = shallow.post(Some(&shallow.admin_token()), too_deep_for_the_schema, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_size_page_size_rate_timeout_and_introspection_limits_answer_with_their_codes() {
    let server = TestServer::start_with(TestDb::new().await, |s| {
        s.max_body_bytes = 4 * 1024;
        s.rate_limit = 5;
    })
    .await;
    let admin = server.admin_token();
    let padding = " ".repeat(8 * 1024);
    let (status, _, body) =
        server.post(Some(&admin), &format!("{{ me {{ role }} {padding} }}"), json!({})).await;
    assert_eq!((status, code(&body)), (413, "PAYLOAD_TOO_LARGE"), "{body}");

    let (_, _, body) = server.post(Some(&admin), "{ sales(first: 1500) { totalCount } }", json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("1500"), "{body}");

    // The bucket holds 5: the request above and one more below used two.
    let other_subject = salesgraph::auth::TokenKeys::hs256(TEST_SECRET.as_bytes())
        .issue(
            &salesgraph::auth::Viewer::new("someone-else", Role::Analyst, vec![]),
            std::time::Duration::from_secs(60),
        )
        .expect("token");
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let (status, _, body) = server.post(Some(&admin), "{ me { role } }", json!({})).await;
        statuses.push((status, code(&body).to_string()));
    }
    assert!(statuses.contains(&(429, "RATE_LIMITED".to_string())), "{statuses:?}");
    let (status, _, _) = server.post(Some(&other_subject), "{ me { role } }", json!({})).await;
    assert_eq!(status, 200, "another subject has its own bucket");

    let slow = TestServer::start_with(super::seeded_server_db(300).await, |s| {
        s.request_timeout = std::time::Duration::from_millis(1);
        s.cache = false;
    })
    .await;
    // Several analyses at once: far more than a millisecond of work on any machine.
    let heavy = "{ a: forecast(limit: 10) { predictions { units } } b: forecast(horizonMonths: 12) { method }
                   c: segments { k } d: seasonality { strength } e: marketingPriorities { score }
                   f: sales(first: 1000) { edges { node { id } } } }";
    let (status, _, body) = slow.post(Some(&slow.admin_token()), heavy, json!({})).await;
    assert_eq!((status, code(&body)), (504, "TIMEOUT"), "{body}");

    let closed = TestServer::start_with(TestDb::new().await, |s| s.introspection = false).await;
    let (_, _, body) =
        closed.post(Some(&closed.admin_token()), "{ __schema { types { name } } }", json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "introspection answered while switched off: {body}");
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("introspection"), "{body}");
    let (status, _, body) =
        closed.post(Some(&closed.admin_token()), "{ me { role __typename } }", json!({})).await;
    assert_eq!(status, 200, "queries still run: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_get_401_and_rs256_tokens_from_an_identity_provider_get_in() {
    let server = TestServer::start_with(TestDb::new().await, |s| {
        s.jwt_public_key = Some(PUBLIC_PEM.into());
        s.jwt_issuer = Some("https://idp.example".into());
    })
    .await;
    let claims = |role: &str| json!({ "sub": "idp-user", "role": role, "exp": now() + 600, "iss": "https://idp.example" });
    let rsa = EncodingKey::from_rsa_pem(PRIVATE_PEM).expect("test key");
    let good = encode(&Header::new(Algorithm::RS256), &claims("executive"), &rsa).expect("sign");
    let (status, _, body) = server.post(Some(&good), "{ me { subject role } }", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"], json!({ "subject": "idp-user", "role": "executive" }));

    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims("admin").to_string())
    );
    let public_pem = std::fs::read(PUBLIC_PEM).expect("public key");
    let confused =
        encode(&Header::new(Algorithm::HS256), &claims("admin"), &EncodingKey::from_secret(&public_pem))
            .expect("sign");
    let parts: Vec<&str> = good.split('.').collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).expect("base64")).expect("utf-8");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.replace("executive", "admin")),
        parts[2]
    );
    let wrong_issuer = encode(
        &Header::new(Algorithm::RS256),
        &json!({ "sub": "x", "role": "admin", "exp": now() + 600, "iss": "https://evil.example" }),
        &rsa,
    )
    .expect("sign");
    let unknown_role = encode(&Header::new(Algorithm::RS256), &claims("overlord"), &rsa).expect("sign");
    let admin_bad_signature =
        format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims("admin").to_string()), parts[2]);
    let hs_with_the_secret = encode(
        &Header::new(Algorithm::HS256),
        &claims("admin"),
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .expect("sign");
    for (name, token) in [
        ("alg none", unsigned),
        ("key confusion", confused),
        ("tampered claim", tampered),
        ("wrong issuer", wrong_issuer),
        ("unknown role", unknown_role),
        ("admin with a wrong signature", admin_bad_signature),
    ] {
        let (status, _, body) = server.post(Some(&token), "{ me { role } }", json!({})).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(code(&body), "UNAUTHENTICATED", "{name}: {body}");
        assert!(body.get("data").is_none(), "{name}: {body}");
    }
    // The shared secret still works beside the public key, with the issuer required.
    let (status, _, _) = server.post(Some(&hs_with_the_secret), "{ me { role } }", json!({})).await;
    assert_eq!(status, 200);
}
