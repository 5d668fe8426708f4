"""Flat exports read back as Excel, Power BI and pandas users read them: the CSV with pandas,
the Parquet with pyarrow; each must hold the JSON answer's rows, values and column types.

usage: python3 exports.py <graphql url> <token>
"""

import io
import json
import math
import sys
import urllib.parse
import urllib.request

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import checklist
from checklist import check, leave

URL, TOKEN = sys.argv[1], sys.argv[2]
QUERY = """{ sales(first: 60, filter: { countries: ["DE", "FR"] }) { edges { node {
  id soldOn model { name } country { code } units unitPrice revenue fuelType } } } }"""
COLUMNS = ["node.id", "node.soldOn", "node.model.name", "node.country.code", "node.units",
           "node.unitPrice", "node.revenue", "node.fuelType"]


def fetch(method, accept=None, url_format=None):
    url = URL
    params = {"query": QUERY} if method == "GET" else {}
    if url_format:
        params["format"] = url_format
    if params:
        url += "?" + urllib.parse.urlencode(params)
    body = None if method == "GET" else json.dumps({"query": QUERY}).encode()
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if accept:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request) as response:
        return response.headers.get("Content-Type", ""), response.read()


content_type, body = fetch("POST")
answer = json.loads(body)
check("errors" not in answer, f"the JSON answer has no errors: {answer.get('errors')}")
rows = [edge["node"] for edge in answer["data"]["sales"]["edges"]]
check(len(rows) == 60, "the JSON answer holds a page of 60 sales")


def same_number(a, b):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and not (isinstance(b, float) and math.isnan(b)) and math.isclose(a, b, rel_tol=0, abs_tol=0)


def matches_json(records, date_of):
    for row, record in zip(rows, records):
        if str(record["node.id"]) != row["id"]:
            return f"id {record['node.id']} != {row['id']}"
        if date_of(record["node.soldOn"]) != row["soldOn"]:
            return f"soldOn {record['node.soldOn']} != {row['soldOn']}"
        if record["node.model.name"] != row["model"]["name"] or record["node.country.code"] != row["country"]["code"]:
            return f"names of {row['id']}"
        if record["node.units"] != row["units"] or record["node.fuelType"] != row["fuelType"]:
            return f"units or fuel of {row['id']}"
        for column, key in (("node.unitPrice", "unitPrice"), ("node.revenue", "revenue")):
            if not same_number(row[key], record[column]):
                return f"{key} of {row['id']}: {record[column]!r} != {row[key]!r}"
    return None


# CSV, asked for by Accept on a GET (a static URL, as Power BI's Web.Contents wants).
content_type, body = fetch("GET", accept="text/csv")
check(content_type.startswith("text/csv"), f"CSV content type, got {content_type}")
frame = pd.read_csv(io.BytesIO(body), parse_dates=["node.soldOn"])
check(list(frame.columns) == COLUMNS, f"CSV columns {list(frame.columns)}")
check(len(frame) == len(rows), "CSV rows")
check(str(frame["node.units"].dtype) == "int64", f"CSV units are integers: {frame['node.units'].dtype}")
check(str(frame["node.revenue"].dtype) == "float64", "CSV revenue is a float")
check(str(frame["node.soldOn"].dtype).startswith("datetime64"), f"CSV dates parse: {frame['node.soldOn'].dtype}")
mismatch = matches_json(frame.to_dict("records"), lambda day: day.strftime("%Y-%m-%d"))
check(mismatch is None, f"CSV values equal the JSON answer's: {mismatch}")

# Parquet, asked for by format= on a POST.
content_type, body = fetch("POST", url_format="parquet")
check(content_type == "application/vnd.apache.parquet", f"Parquet content type, got {content_type}")
table = pq.read_table(io.BytesIO(body))
schema = {field.name: field.type for field in table.schema}
check(list(schema) == COLUMNS, f"Parquet columns {list(schema)}")
check(schema["node.soldOn"] == pa.date32(), f"Parquet dates are dates: {schema['node.soldOn']}")
check(schema["node.units"] == pa.int64(), f"Parquet units: {schema['node.units']}")
check(schema["node.revenue"] == pa.float64(), f"Parquet revenue: {schema['node.revenue']}")
check(pa.types.is_string(schema["node.model.name"]) or pa.types.is_large_string(schema["node.model.name"])
      or pa.types.is_string_view(schema["node.model.name"]), f"Parquet names: {schema['node.model.name']}")
records = table.to_pylist()
check(len(records) == len(rows), "Parquet rows")
mismatch = matches_json(records, lambda day: day.isoformat())
check(mismatch is None, f"Parquet values equal the JSON answer's: {mismatch}")
check(pd.read_parquet(io.BytesIO(body)).shape == (len(rows), len(COLUMNS)), "pandas reads the Parquet too")

print(f"exports: {checklist.passed} checks pass")
leave(0)
