#!/usr/bin/env python3
"""Hostile requests against the release server.

    python3 measure/hostile.py probe      each hostile form once: the answer must be the documented
                                        refusal and the server must keep answering (exit 1 if not)
    python3 measure/hostile.py [SAMPLES]  for each hostile kind, one client sends it over and over
                                        while another times a cheap query SAMPLES times (default
                                        400): prints p50 / p99 / max in ms (target p50 < 5, p99 < 50)

Seeds a small SQLite file (20,000 rows) in a temporary folder; needs only Python's standard
library and the release build (`cargo build --release`, run here unless SALESGRAPH_BIN names
a binary).
"""
import json, os, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18095
URL = f"http://127.0.0.1:{PORT}/graphql"


def start():
    binary = os.environ.get("SALESGRAPH_BIN")
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
        binary = os.path.join(target, "release", "salesgraph")
    work = tempfile.mkdtemp()
    env = dict(os.environ, DATABASE_URL=f"sqlite://{work}/hostile.db", SALESGRAPH_JWT_SECRET="bench-secret",
               SALESGRAPH_LISTEN=f"127.0.0.1:{PORT}", SALESGRAPH_SQL_LISTEN="off", SALESGRAPH_RATE_LIMIT="0", SALESGRAPH_CACHE="off",
               RUST_LOG="error")
    subprocess.run([binary, "seed", "--rows", "20000", "--seed", "1"], env=env, check=True, capture_output=True)
    tokens = {role: subprocess.run([binary, "token", "--role", role, "--sub", f"hostile-{role}"], env=env,
                                   check=True, capture_output=True, text=True).stdout.strip()
              for role in ("admin", "analyst")}
    server = subprocess.Popen([binary, "serve"], env=env)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/readyz", timeout=1)
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    return server, tokens


def post(token, query, variables=None, raw=None, timeout=30):
    body = raw if raw is not None else json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(URL, data=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def code(body):
    try:
        return body["errors"][0]["extensions"]["code"]
    except (KeyError, IndexError, TypeError):
        return None


def nested_list(depth):
    return "[" * depth + '"DE"' + "]" * depth


def slow_headers():
    with socket.create_connection(("127.0.0.1", PORT)) as s:
        for byte in b"POST /graphql HTTP/1.1\r\nHost: localhost\r\n" * 40:
            try:
                s.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.05)


def slow_body():
    with socket.create_connection(("127.0.0.1", PORT)) as s:
        s.send(b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 999\r\n\r\n{")
        s.settimeout(30)
        try:
            s.recv(4096)
        except OSError:
            pass


def kinds(tokens):
    """Each hostile kind: a function sending one such request, and what its answer must be."""
    analyst, admin = tokens["analyst"], tokens["admin"]
    everything = "{ salesSummary(groupBy: [PERIOD, MODEL, COUNTRY, FUEL_TYPE, TRANSMISSION], granularity: MONTH) { units } }"
    aliases = "{" + " ".join(f't{i}: trend(filter: {{from: "1900-01-01", to: "2199-12-31"}}) {{ direction }}' for i in range(100)) + " }"
    return {
        "nested list 1,500 deep": (lambda: post(analyst, f"{{ trend(filter: {{countries: {nested_list(1500)}}}) {{ direction }} }}"), "BAD_USER_INPUT"),
        "nested object 2,000 deep": (lambda: post(analyst, "{ trend(filter: " + "{from: " * 2000 + '"2024-01-01"' + "}" * 2000 + ") { direction } }"), "BAD_USER_INPUT"),
        "nesting in a variable default": (lambda: post(analyst, f"query($f: SalesFilter = {{countries: {nested_list(1500)}}}) {{ trend(filter: $f) {{ direction }} }}"), "BAD_USER_INPUT"),
        "nesting 100,000 deep": (lambda: post(analyst, f"{{ trend(filter: {{countries: {nested_list(100000)}}}) {{ direction }} }}"), "BAD_USER_INPUT"),
        "JSON variables 100,000 deep": (lambda: post(analyst, None, raw=('{"query":"{ me { role } }","variables":{"c":' + "[" * 100000 + "1" + "]" * 100000 + "}}").encode()), "BAD_USER_INPUT"),
        "trend from year 1": (lambda: post(analyst, '{ trend(filter: {from: "0001-01-01"}) { direction } }'), "BAD_USER_INPUT"),
        "trend from -9999": (lambda: post(analyst, '{ trend(filter: {from: "-9999-01-01"}) { direction } }'), "BAD_USER_INPUT"),
        "100 trends over 300 years": (lambda: post(analyst, aliases), None),
        "revenue through a variable default": (lambda: post(analyst, "query($m: Metric = REVENUE) { trend(metric: $m) { points { value } } }"), "FORBIDDEN"),
        "revenue ranking through a variable default": (lambda: post(analyst, "query($m: Metric = REVENUE) { topModels(metric: $m) { share } }"), "FORBIDDEN"),
        "every group without limit": (lambda: post(analyst, everything), "BAD_USER_INPUT"),
        "page of 5,000": (lambda: post(analyst, "{ sales(first: 5000) { totalCount } }"), "BAD_USER_INPUT"),
        "slow headers": (lambda: (slow_headers(), (0, None))[1], "skip"),
        "slow body": (lambda: (slow_body(), (0, None))[1], "skip"),
        "import with a 100,000-character name": (lambda: post(admin, "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
                                                               {"csv": "sold_on,model,country,units\n2024-01-02," + "M" * 100000 + ",DE,1\n"}), None),
    }


def cheap(token):
    started = time.perf_counter()
    status, body = post(token, "{ topModels(limit: 3) { rank units } }")
    assert status == 200 and code(body) is None, body
    return (time.perf_counter() - started) * 1000


def probe(tokens):
    failures = []
    for name, (send, expected) in kinds(tokens).items():
        status, body = send()
        if expected not in ("skip", None) and code(body) != expected:
            failures.append(f"{name}: expected {expected}, got {status} {json.dumps(body)[:300]}")
        try:
            cheap(tokens["admin"])
        except Exception as error:  # the server must still answer
            failures.append(f"after {name}: the server does not answer ({error})")
            break
        print(f"ok   {name}: {status} {code(body) or ''}")
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


def measure(tokens, samples):
    print(f"{'hostile kind':45} {'p50':>7} {'p99':>7} {'max':>7}  (ms, cheap query while it runs)")
    for name, (send, _) in [("none", (lambda: time.sleep(0.01), None))] + list(kinds(tokens).items()):
        stop = threading.Event()

        def attack():
            while not stop.is_set():
                try:
                    send()
                except Exception:
                    time.sleep(0.01)

        attacker = threading.Thread(target=attack, daemon=True)
        attacker.start()
        time.sleep(0.2)
        latencies = sorted(cheap(tokens["admin"]) for _ in range(samples))
        stop.set()
        p50 = statistics.median(latencies)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"{name:45} {p50:7.2f} {p99:7.2f} {latencies[-1]:7.2f}")
        attacker.join(timeout=60)


def main():
    server, tokens = start()
    try:
        if len(sys.argv) > 1 and sys.argv[1] == "probe":
            return probe(tokens)
        measure(tokens, int(sys.argv[1]) if len(sys.argv) > 1 else 400)
        return 0
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
