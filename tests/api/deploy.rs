//! The Kubernetes manifests (deploy/kubernetes) parsed and checked against each other and the
//! real server: probes answer on their paths, ports line up, selectors match, secrets and the
//! policy ConfigMap are wired in, and the ConfigMap's policy is policy/policy.csv.

use serde_json::Value;

use super::common::{TestDb, TestServer};

fn manifests() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let mut documents = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("deploy/kubernetes") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read manifest");
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(document)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
            documents.push(value);
        }
    }
    documents
}

fn kind<'a>(documents: &'a [Value], kind: &str) -> &'a Value {
    documents.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind} manifest"))
}

/// The first item of the list `list` that `matches`, or a panic saying what was looked for.
fn item<'a>(list: &'a Value, what: &str, matches: impl Fn(&Value) -> bool) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("no list for {what}"))
        .iter()
        .find(|v| matches(v))
        .unwrap_or_else(|| panic!("{what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_manifests_are_complete_and_consistent() {
    let documents = manifests();
    let deployment = kind(&documents, "Deployment");
    let service = kind(&documents, "Service");
    let hpa = kind(&documents, "HorizontalPodAutoscaler");
    let pdb = kind(&documents, "PodDisruptionBudget");
    let config = kind(&documents, "ConfigMap");
    let secret = kind(&documents, "Secret");

    let name = deployment["metadata"]["name"].as_str().expect("name");
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
    assert_eq!(&service["spec"]["selector"], labels);
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], labels);
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], name);
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert!(hpa["spec"]["minReplicas"].as_u64().expect("minReplicas") >= 2, "several replicas");

    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let image = container["image"].as_str().expect("image");
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploying.md"))
        .expect("docs/deploying.md");
    let image_name = image.split(':').next().expect("image name");
    assert!(guide.contains(image_name), "docs/deploying.md names the image {image_name}");
    let port = &container["ports"][0];
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    let env = |key: &str| {
        container["env"]
            .as_array()
            .expect("env")
            .iter()
            .find(|e| e["name"] == key)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let listen = env("SALESGRAPH_LISTEN")["value"].as_str().expect("SALESGRAPH_LISTEN").to_string();
    assert!(listen.ends_with(&format!(":{}", port["containerPort"])), "listen {listen} vs {port}");
    for (variable, key) in [("DATABASE_URL", "database-url"), ("SALESGRAPH_JWT_SECRET", "jwt-secret")] {
        let from = &env(variable)["valueFrom"]["secretKeyRef"];
        assert_eq!(from["name"], secret["metadata"]["name"], "{variable} comes from the secret");
        assert_eq!(from["key"], key);
        assert!(secret["stringData"][key].is_string(), "the example secret has {key}");
    }
    // The read replica is optional: a secret without it must still start the pod.
    let read = &env("DATABASE_READ_URL")["valueFrom"]["secretKeyRef"];
    assert_eq!(read["name"], secret["metadata"]["name"], "DATABASE_READ_URL comes from the secret");
    assert_eq!(read["optional"], true, "DATABASE_READ_URL must be optional");
    for resource in ["requests", "limits"] {
        for what in ["cpu", "memory"] {
            assert!(container["resources"][resource][what].is_string(), "{resource}.{what}");
        }
    }

    // The policy: mounted from the ConfigMap where SALESGRAPH_POLICY points, equal to the
    // repository's and loadable.
    let mount = &container["volumeMounts"][0];
    let volume = item(&pod["volumes"], "volume", |v| v["name"] == mount["name"]);
    assert_eq!(volume["configMap"]["name"], config["metadata"]["name"]);
    let policy_path = env("SALESGRAPH_POLICY")["value"].as_str().expect("SALESGRAPH_POLICY").to_string();
    let file = policy_path
        .strip_prefix(&format!("{}/", mount["mountPath"].as_str().expect("mountPath")))
        .expect("under the mount");
    let policy = config["data"][file].as_str().expect("policy in the ConfigMap");
    assert_eq!(
        policy.trim(),
        salesgraph::access::policy::DEFAULT_POLICY.trim(),
        "ConfigMap policy = policy/policy.csv"
    );
    salesgraph::access::AccessPolicy::load(policy).await.expect("the ConfigMap's policy loads");

    // The SQL endpoint listens beyond loopback, so it takes TLS with the key pair of a mounted
    // TLS secret.
    let sql_listen =
        env("SALESGRAPH_SQL_LISTEN")["value"].as_str().expect("SALESGRAPH_SQL_LISTEN").to_string();
    assert!(sql_listen.starts_with("0.0.0.0:"), "{sql_listen}");
    let tls_volume = item(&pod["volumes"], "a volume from the SQL endpoint's TLS secret", |v| {
        v["secret"]["secretName"].is_string()
    });
    let tls_mount =
        item(&container["volumeMounts"], "the TLS secret is mounted", |m| m["name"] == tls_volume["name"]);
    let tls_folder = tls_mount["mountPath"].as_str().expect("mountPath");
    for (variable, file) in [("SALESGRAPH_SQL_TLS_CERT", "tls.crt"), ("SALESGRAPH_SQL_TLS_KEY", "tls.key")] {
        assert_eq!(
            env(variable)["value"],
            format!("{tls_folder}/{file}"),
            "{variable}: the key of a kubernetes.io/tls secret"
        );
    }

    // The probes answer on their paths on a real server.
    let server = TestServer::start(TestDb::new().await).await;
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["port"], port["name"], "{probe} port");
        let path = container[probe]["httpGet"]["path"].as_str().expect("probe path");
        let (status, body) = server.get_text(path).await;
        assert_eq!(status, 200, "{probe} {path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_health_check_asks_the_server() {
    let server = TestServer::start(TestDb::new().await).await;
    let address = server.base.trim_start_matches("http://").to_string();
    let health = |listen: String| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_salesgraph"))
            .args(["health", "--listen", &listen])
            .output()
    };
    let live = health(address).await.expect("runs");
    assert!(live.status.success(), "{}", String::from_utf8_lossy(&live.stderr));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address");
    let dead = health(closed.to_string()).await.expect("runs");
    assert!(!dead.status.success(), "nothing listens on {closed}");
    let dockerfile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile.contains("HEALTHCHECK") && dockerfile.contains("\"health\""),
        "the image checks itself"
    );
}
