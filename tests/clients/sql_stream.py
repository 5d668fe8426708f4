"""Reads through the extended protocol as psycopg's cursor.stream and most drivers do (one
Execute that asks for every row): a result far larger than memory must start arriving at once,
a whole result must arrive whole, and a client that stops reading early must find its connection
usable afterwards.

    python3 sql_stream.py HOST PORT TOKEN
"""

import sys
import time

import psycopg

host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]

# Eight billion rows over 2,000 sales rows: no server could gather them before sending.
ENDLESS = (
    "SELECT a.units AS a, b.units AS b, c.units AS c "
    "FROM (SELECT units FROM sales) a, (SELECT units FROM sales) b, (SELECT units FROM sales) c"
)
WANTED = 100_000


def fail(what):
    print(f"FAILED: {what}")
    sys.exit(1)


with psycopg.connect(
    host=host, port=port, user="bi", password=token, dbname="salesgraph", sslmode="disable", autocommit=True
) as conn:
    (count,) = conn.execute("SELECT COUNT(*) FROM sales").fetchone()
    streamed = sum(1 for _ in conn.cursor().stream("SELECT id, model, units FROM sales"))
    if streamed != count:
        fail(f"a streamed read of sales gave {streamed} rows, COUNT(*) says {count}")

    started = time.monotonic()
    first_row_after = None
    read = 0
    try:
        for _ in conn.cursor().stream(ENDLESS):
            if first_row_after is None:
                first_row_after = time.monotonic() - started
            read += 1
            if read == WANTED:
                break
    except psycopg.Error as error:
        fail(f"the endless read ended after {read} rows with {error.sqlstate}: {error}")
    took = time.monotonic() - started
    if read != WANTED:
        fail(f"the endless read ended after {read} rows")
    print(f"first row after {first_row_after:.3f} s, {WANTED} rows after {took:.3f} s")

    # Stopping early cancelled the statement; the connection answers the next one.
    (countries,) = conn.execute("SELECT COUNT(*) FROM countries WHERE code = %s", ("DE",)).fetchone()
    if countries != 1:
        fail(f"after the early stop, a lookup of DE found {countries} rows")

print("checks pass")
