#!/usr/bin/env python3
"""How fast refusals are: each limit of api.md tripped REPEAT times against the release server
(a small seeded SQLite file), timing each whole HTTP round trip on loopback. Prints the code
and p50 / p99 / max in milliseconds. The target: well under 10 ms.
    python3 measure/limits.py [REPEAT]
"""
import json, os, statistics, subprocess, sys, tempfile, time, urllib.request, urllib.error

REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 200
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
BIN = os.path.join(ROOT, "target", "release", "salesgraph")
work = tempfile.mkdtemp()
db = f"sqlite://{work}/limits.db"
env = dict(os.environ, DATABASE_URL=db, SALESGRAPH_JWT_SECRET="bench-secret", SALESGRAPH_LISTEN="127.0.0.1:18093", SALESGRAPH_SQL_LISTEN="off",
           SALESGRAPH_CACHE="off", RUST_LOG="warn")
subprocess.run([BIN, "seed", "--rows", "20000", "--seed", "1"], env=env, check=True, capture_output=True)
token = subprocess.run([BIN, "token", "--role", "admin", "--sub", "bench"], env=env, check=True,
                       capture_output=True, text=True).stdout.strip()
limited = subprocess.run([BIN, "token", "--role", "analyst", "--sub", "flood"], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
# One server without a rate limit for every other case, one with a tiny one for the 429s.
servers = [
    subprocess.Popen([BIN, "serve", "--no-seed"], env=dict(env, SALESGRAPH_RATE_LIMIT="0")),
    subprocess.Popen([BIN, "serve", "--no-seed"], env=dict(env, SALESGRAPH_RATE_LIMIT="5", SALESGRAPH_LISTEN="127.0.0.1:18094")),
]
for port in (18093, 18094):
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except Exception:
            time.sleep(0.1)

def post(body, bearer=token, port=18093):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body, method="POST",
                                     headers={"content-type": "application/json", "authorization": f"Bearer {bearer}"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()

def query(text):
    return json.dumps({"query": text}).encode()

aliases = "{" + " ".join(f"a{i}: me {{ role }}" for i in range(10_000)) + "}"
bomb = "{ ...f0 }\n" + "".join(f"fragment f{i} on Query {{ ...f{i+1} ...f{i+1} }}\n" for i in range(40)) \
    + "fragment f40 on Query { models { name } }"
deep = "{ __schema { types { fields { type " + "{ ofType " * 45 + "{ name }" + " }" * 49
cases = [
    ("bad signature -> 401", query("{ me { role } }"), token[:-4] + "AAAA", 18093),
    ("10,000 aliases", query(aliases), token, 18093),
    ("fragment bomb 2^40", query(bomb), token, 18093),
    ("depth 50", query(deep), token, 18093),
    ("complexity", query("{ topModels(limit: 5000) { units } }"), token, 18093),
    ("page size", query("{ sales(first: 1500) { totalCount } }"), token, 18093),
    ("body 300 KiB -> 413", query("{ me { role } }" + " " * 300_000), token, 18093),
    ("analyst revenue -> FORBIDDEN", query("{ topModels(metric: REVENUE) { units } }"), limited, 18093),
    ("rate limit -> 429", query("{ me { role } }"), limited, 18094),
]
print(f"{'case':32} {'status':>6} {'code':20} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
try:
    for name, body, bearer, port in cases:
        times, status, code = [], None, None
        for _ in range(REPEAT):
            started = time.perf_counter()
            status, payload = post(body, bearer, port)
            times.append((time.perf_counter() - started) * 1000)
            try:
                code = json.loads(payload)["errors"][0]["extensions"]["code"]
            except Exception:
                code = "-"
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"{name:32} {status:>6} {code:20} {statistics.median(times):8.2f} {p99:8.2f} {times[-1]:8.2f}")
finally:
    for server in servers:
        server.terminate()
        server.wait()
