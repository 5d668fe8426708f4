"""The SQL endpoint's speed, with psycopg as a BI tool would connect.

1. A GROUP BY by country over `sales_monthly` for one year, from CONNECTIONS connections at once
   (default 16), each running it QUERIES times: the latency percentiles, measured twice: with
   psycopg from Python threads (what a notebook sees) and with pgbench, PostgreSQL's own C
   client, whose per-statement log separates the server's latency from a Python client's.
2. A full `SELECT * FROM sales` streamed to psycopg (server-side rows taken in chunks as they
   come): rows per second, and the server's resident memory before, at its peak during the scan
   and after.

    python3 measure/sql_load.py BIN DATABASE_URL [CONNECTIONS] [QUERIES]

BIN is the release binary; DATABASE_URL a database it serves (measure/sql_load.sh prepares one
of 1,000,000 generated rows).
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg

BIN, DB = sys.argv[1], sys.argv[2]
CONNECTIONS = int(sys.argv[3]) if len(sys.argv) > 3 else 16
QUERIES = int(sys.argv[4]) if len(sys.argv) > 4 else 200
HTTP_PORT, SQL_PORT = 18111, 18112
SECRET = "bench-secret-of-forty-characters-or-more-for-hs256"

env = dict(
    os.environ,
    DATABASE_URL=DB,
    SALESGRAPH_JWT_SECRET=SECRET,
    SALESGRAPH_LISTEN=f"127.0.0.1:{HTTP_PORT}",
    SALESGRAPH_SQL_LISTEN=f"127.0.0.1:{SQL_PORT}",
    RUST_LOG="warn",
)
token = subprocess.run(
    [BIN, "token", "--role", "admin", "--sub", "bench", "--ttl", "2h"],
    env=env, check=True, capture_output=True, text=True,
).stdout.strip().splitlines()[-1]
server = subprocess.Popen([BIN, "serve", "--no-seed"], env=env)


def resident_mib():
    with open(f"/proc/{server.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def connect():
    return psycopg.connect(host="127.0.0.1", port=SQL_PORT, user="bench", password=token,
                           dbname="salesgraph", sslmode="disable")


try:
    for _ in range(600):
        try:
            connect().close()
            break
        except psycopg.OperationalError:
            time.sleep(0.1)
    subprocess.run(["bash", "-c", f"source measure/lib.sh && wait_for_background_passes {HTTP_PORT}"], check=True)

    query = ("SELECT country, SUM(units) AS units FROM sales_monthly "
             "WHERE month >= DATE '2024-01-01' AND month < DATE '2025-01-01' GROUP BY country")
    latencies = []
    lock = threading.Lock()

    def client():
        with connect() as conn:
            conn.execute(query).fetchall()  # warm the connection
            mine = []
            for _ in range(QUERIES):
                began = time.perf_counter()
                conn.execute(query).fetchall()
                mine.append((time.perf_counter() - began) * 1000)
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CONNECTIONS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"GROUP BY country, one year of sales_monthly, {CONNECTIONS} connections x {QUERIES}: "
          f"p50 {pick(0.50):.2f} ms, p90 {pick(0.90):.2f} ms, p99 {pick(0.99):.2f} ms, "
          f"mean {statistics.mean(latencies):.2f} ms, {len(latencies) / elapsed:.0f} statements/s")

    pgbench = shutil.which("pgbench")
    if pgbench:
        with tempfile.TemporaryDirectory() as work:
            script = os.path.join(work, "group_by.sql")
            with open(script, "w") as out:
                out.write(query + ";\n")
            subprocess.run(
                [pgbench, "-n", "-c", str(CONNECTIONS), "-j", "2", "-t", str(QUERIES), "-f", script,
                 "-l", "--log-prefix", os.path.join(work, "log"),
                 "-h", "127.0.0.1", "-p", str(SQL_PORT), "-U", "bench", "salesgraph"],
                env=dict(os.environ, PGPASSWORD=token, PGSSLMODE="disable"), check=True,
                capture_output=True, text=True,
            )
            # Each log line: client, transaction, latency in microseconds, ...
            waits = sorted(
                int(line.split()[2]) / 1000
                for name in os.listdir(work) if name.startswith("log")
                for line in open(os.path.join(work, name))
            )
        pick = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))]
        print(f"the same with pgbench, {CONNECTIONS} connections x {QUERIES}: p50 {pick(0.50):.2f} ms, "
              f"p90 {pick(0.90):.2f} ms, p99 {pick(0.99):.2f} ms, mean {statistics.mean(waits):.2f} ms")
    else:
        print("pgbench not found: the native-client latencies are left out")

    before = resident_mib()
    peak = before
    rows = 0
    with connect() as conn:
        began = time.perf_counter()
        with conn.cursor() as cur:
            for _ in cur.stream("SELECT * FROM sales", size=10_000):
                rows += 1
                if rows % 100_000 == 0:
                    peak = max(peak, resident_mib())
        elapsed = time.perf_counter() - began
    after = resident_mib()
    print(f"SELECT * FROM sales to psycopg: {rows} rows in {elapsed:.2f} s = {rows / elapsed:,.0f} rows/s; "
          f"server resident memory {before:.0f} MiB before, {peak:.0f} MiB at most during, {after:.0f} MiB after")
finally:
    server.terminate()
    server.wait()
