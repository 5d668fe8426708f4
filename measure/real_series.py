"""Real monthly series, forecast as of past months by salesgraph and by statsforecast.

Reads the series that ship inside the Python packages (no download): air passengers
(statsforecast), Mauna Loa CO2 (statsmodels, weekly readings averaged by month), El Niño sea
temperatures (statsmodels), UK road casualties "Seatbelts" and Australian PBS scripts, a sparse
series (sktime, up to its last script), and shampoo sales (sktime). Each becomes one model in one market; values with
decimals are scaled by 10 to whole units, and dates move by whole years so that every series
ends in 2024 (months keep their calendar position).

  python measure/real_series.py csv OUT.csv          # the file for `salesgraph import`
  python measure/real_series.py compare URL TOKEN    # as-of forecasts: salesgraph against statsforecast

The comparison forecasts 3 months ahead from 8 origins, every 3 months over the last 24, with
data up to each origin only; prints sMAPE and MASE per series for salesgraph (with the method it
chose), statsforecast's AutoETS (season 12) and seasonal naive.
"""

import glob
import json
import os
import sys
import urllib.request

import numpy as np
import pandas as pd

HORIZON = 3
ORIGINS = 8
COUNTRY = "DE"


def series():
    from statsforecast.utils import AirPassengers
    import statsmodels.api as sm
    import sktime
    from sktime.datasets import load_PBS_dataset, load_shampoo_sales

    found = {}
    found["Air passengers"] = (pd.Period("1949-01", "M"), np.asarray(AirPassengers, dtype=float))
    co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    found["CO2 x10"] = (pd.Period(co2.index[0], "M"), np.round(co2.to_numpy() * 10))
    nino = sm.datasets.elnino.load_pandas().data
    temperatures = nino.drop(columns="YEAR").to_numpy().reshape(-1)
    found["El Nino x10"] = (pd.Period(f"{int(nino['YEAR'].iloc[0])}-01", "M"), np.round(temperatures * 10))
    belts = glob.glob(os.path.join(os.path.dirname(sktime.__file__), "datasets/data/seatbelts/seatbelts.csv"))[0]
    ksi = pd.read_csv(belts, index_col=0)["KSI"]
    found["Seatbelts KSI"] = (pd.Period(ksi.index[0], "M"), ksi.to_numpy(dtype=float))
    pbs = load_PBS_dataset()
    # The scripts stop in 2004: the years of zeros after would read as a model off sale.
    pbs = pbs.loc[: pbs[pbs > 0].index[-1]]
    found["PBS scripts"] = (pbs.index[0], pbs.to_numpy(dtype=float))
    shampoo = load_shampoo_sales()
    found["Shampoo x10"] = (pd.Period("2001-01", "M"), np.round(shampoo.to_numpy() * 10))
    shifted = {}
    for name, (start, values) in found.items():
        last = start + (len(values) - 1)
        shifted[name] = (start + 12 * (2024 - last.year), values)
    return shifted


def write_csv(path):
    with open(path, "w") as out:
        out.write("sold_on,model,country,units\n")
        for name, (start, values) in series().items():
            for offset, value in enumerate(values):
                if value > 0:
                    out.write(f"{(start + offset).start_time.date()},{name},{COUNTRY},{int(value)}\n")


def smape(actual, predicted):
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    denominator = np.abs(actual) + np.abs(predicted)
    terms = np.where(denominator == 0, 0.0, 200 * np.abs(actual - predicted) / np.where(denominator == 0, 1, denominator))
    return float(terms.mean())


def mase(actual, predicted, train):
    scale = np.mean(np.abs(train[12:] - train[:-12]))
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(predicted))) / scale) if scale > 0 else float("nan")


def salesgraph_forecast(url, token, model, to):
    query = """query($f: SalesFilter) { forecast(filter: $f, horizonMonths: 3, limit: 1) {
      predictions { method months { month units } } } }"""
    body = json.dumps({"query": query, "variables": {"f": {"models": [model], "countries": [COUNTRY], "to": to}}})
    request = urllib.request.Request(
        url, body.encode(), {"content-type": "application/json", "authorization": f"Bearer {token}"}
    )
    answer = json.load(urllib.request.urlopen(request))
    if "errors" in answer:
        raise SystemExit(f"{model} as of {to}: {answer['errors']}")
    predictions = answer["data"]["forecast"]["predictions"]
    if not predictions:
        raise SystemExit(f"{model} as of {to}: no forecast")
    prediction = predictions[0]
    return prediction["method"], [m["units"] for m in prediction["months"]]


def compare(url, token):
    from statsforecast.models import AutoETS, SeasonalNaive

    rows = []
    for name, (start, values) in series().items():
        scores = {"salesgraph": [], "AutoETS": [], "seasonal naive": []}
        methods = set()
        pooled = {key: ([], [], []) for key in scores}
        for k in range(ORIGINS, 0, -1):
            origin = len(values) - HORIZON * k
            train, actual = values[:origin], values[origin : origin + HORIZON]
            to = (start + (origin - 1)).end_time.date().isoformat()
            method, ours = salesgraph_forecast(url, token, name, to)
            methods.add(method)
            ets = AutoETS(season_length=12).forecast(train, h=HORIZON)["mean"]
            naive = SeasonalNaive(season_length=12).forecast(train, h=HORIZON)["mean"]
            for key, predicted in (("salesgraph", ours), ("AutoETS", ets), ("seasonal naive", naive)):
                pooled[key][0].extend(actual)
                pooled[key][1].extend(predicted)
                pooled[key][2].append(mase(actual, predicted, train))
        row = {"series": name, "months": len(values), "salesgraph method": ", ".join(sorted(methods))}
        for key, (actual, predicted, mases) in pooled.items():
            row[f"{key} sMAPE"] = round(smape(actual, predicted), 1)
            row[f"{key} MASE"] = round(float(np.nanmean(mases)), 2)
        rows.append(row)
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False) if hasattr(table, "to_markdown") else table.to_string(index=False))


if __name__ == "__main__":
    if sys.argv[1:2] == ["csv"]:
        write_csv(sys.argv[2])
    elif sys.argv[1:2] == ["compare"]:
        compare(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
