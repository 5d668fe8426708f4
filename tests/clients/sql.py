"""The SQL endpoint as Python connects to it: psycopg 3 over the simple and the extended protocol
(with parameters and a prepared statement), SQLAlchemy's inspector (what Superset does when a
database is added) and pandas.read_sql. Sums are compared with the GraphQL API's answers, which
the calling test passes in.

    python3 sql.py HOST PORT EXPECTED_JSON
"""

import datetime
import json
import sys

import pandas
import psycopg
import sqlalchemy

import checklist
from checklist import check, leave

host, port, expected = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
tokens = expected["tokens"]


def connect(token, **kwargs):
    return psycopg.connect(
        host=host, port=port, user="superset", password=token, dbname="salesgraph", sslmode="disable", **kwargs
    )


by_country_2024 = {k: int(v) for k, v in expected["units_2024_by_country"].items()}
GROUP_2024 = (
    "SELECT country, SUM(units) AS units FROM sales_monthly "
    "WHERE month >= DATE '2024-01-01' AND month < DATE '2025-01-01' GROUP BY country ORDER BY country"
)

with connect(tokens["admin"]) as conn:
    # Simple protocol: a client-side cursor sends the statement text as it is.
    with psycopg.ClientCursor(conn) as cur:
        cur.execute(GROUP_2024)
        rows = {country: int(units) for country, units in cur.fetchall()}
        check(rows == by_country_2024, f"simple protocol GROUP BY equals salesSummary: {rows} vs {by_country_2024}")

    # Extended protocol with parameters, typed as the driver sends them.
    cur = conn.execute(
        "SELECT SUM(units) FROM sales_monthly WHERE country = %s AND month >= %s AND month <= %s",
        ("DE", datetime.date(2024, 1, 1), datetime.date(2024, 12, 31)),
    )
    (units,) = cur.fetchone()
    check(int(units) == int(expected["units_de_2024"]), f"parameters: DE 2024 units {units}")

    # A named prepared statement, executed twice with different parameters.
    for country in ("DE", "FR"):
        cur = conn.execute(
            "SELECT COUNT(*), SUM(units) FROM sales WHERE country = %s AND sold_on >= %s",
            (country, datetime.date(2024, 1, 1)),
            prepare=True,
        )
        count, units = cur.fetchone()
        check(count >= 0 and (units or 0) >= 0, f"prepared statement for {country}")

    # Types come through as Python types.
    cur = conn.execute("SELECT id, sold_on, units, unit_price_usd, model FROM sales ORDER BY id LIMIT 5")
    first = cur.fetchone()
    check(isinstance(first[0], int) and isinstance(first[1], datetime.date), f"row types {first!r}")
    check(isinstance(first[2], int) and isinstance(first[4], str), f"row types {first!r}")

# SQLAlchemy, as Superset adds a database: connect, inspect, read.
engine = sqlalchemy.create_engine(
    sqlalchemy.engine.URL.create(
        "postgresql+psycopg",
        username="superset",
        password=tokens["admin"],
        host=host,
        port=port,
        database="salesgraph",
        query={"sslmode": "disable"},
    )
)
inspector = sqlalchemy.inspect(engine)
tables = set(inspector.get_table_names())
check({"sales", "sales_monthly", "car_models", "countries"} <= tables, f"get_table_names: {tables}")
columns = {c["name"]: c for c in inspector.get_columns("sales")}
for name in ("id", "sold_on", "model", "country", "region", "units", "unit_price_usd", "revenue"):
    check(name in columns, f"get_columns(sales) has {name}: {sorted(columns)}")
check(isinstance(columns["sold_on"]["type"], sqlalchemy.types.Date), f"sold_on is a date: {columns['sold_on']['type']!r}")
check(isinstance(columns["units"]["type"], sqlalchemy.types.BigInteger), f"units is a bigint: {columns['units']['type']!r}")
monthly = {c["name"] for c in inspector.get_columns("sales_monthly")}
check({"month", "model", "country", "region", "fuel_type", "transmission", "units", "revenue"} <= monthly, f"{monthly}")

frame = pandas.read_sql(sqlalchemy.text(GROUP_2024), engine)
check(list(frame.columns) == ["country", "units"], f"read_sql columns {list(frame.columns)}")
check(dict(zip(frame["country"], frame["units"].astype(int))) == by_country_2024, "read_sql equals salesSummary")
frame = pandas.read_sql("SELECT sold_on, units, revenue FROM sales LIMIT 100", engine, parse_dates=["sold_on"])
check(str(frame["units"].dtype) == "int64", f"units dtype {frame['units'].dtype}")
check(str(frame["revenue"].dtype) == "float64", f"revenue dtype {frame['revenue'].dtype}")
engine.dispose()

# The manager's connection: only its regions, in every table.
manager = {k: int(v) for k, v in expected["manager_units_by_country"].items()}
with connect(tokens["manager"]) as conn:
    rows = dict(conn.execute("SELECT country, SUM(units) FROM sales_monthly GROUP BY 1").fetchall())
    check({k: int(v) for k, v in rows.items()} == manager, f"manager's sales_monthly {rows} vs {manager}")
    rows = dict(conn.execute("SELECT country, SUM(units) FROM sales GROUP BY 1").fetchall())
    check({k: int(v) for k, v in rows.items()} == manager, f"manager's sales {rows}")
    codes = {code for (code,) in conn.execute("SELECT code FROM countries").fetchall()}
    check(codes >= set(manager) and all(conn.execute("SELECT region FROM countries WHERE code = %s", (c,)).fetchone()[0] == "Europe" for c in codes), f"manager's countries {codes}")

# The analyst's money column and the executive's sale rows are refused with 42501.
for token, sql, named in (
    (tokens["analyst"], "SELECT SUM(revenue) FROM sales_monthly", '"revenue"'),
    (tokens["analyst"], "SELECT * FROM sales LIMIT 1", "may not see money"),
    (tokens["executive"], "SELECT COUNT(*) FROM sales", '"sales"'),
):
    with connect(token) as conn:
        try:
            conn.execute(sql)
            check(False, f"{sql} is refused")
        except psycopg.Error as error:
            check(error.sqlstate == "42501", f"{sql}: SQLSTATE {error.sqlstate} ({error})")
            check(named in str(error), f"{sql}: the error names {named}: {error}")

# A wrong token is refused at login, saying why.
try:
    connect("not-a-token").close()
    check(False, "a wrong token is refused")
except psycopg.OperationalError as error:
    check("password authentication failed" in str(error), f"login refusal: {error}")

print(f"{checklist.passed} checks pass")
leave(0)
