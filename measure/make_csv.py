#!/usr/bin/env python3
"""Writes a canonical sales CSV of N rows (deterministic) for the import benchmark."""
import random
import sys

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
out = sys.argv[2] if len(sys.argv) > 2 else "measure/out/sales.csv"
models = ["1 Series", "3 Series", "5 Series", "X1", "X3", "X5", "X7", "i4", "iX", "M3"]
countries = ["DE", "GB", "FR", "US", "CN", "JP", "NO", "IT", "ES", "AU"]
fuels = ["PETROL", "DIESEL", "HYBRID", "ELECTRIC"]
random.seed(1)
with open(out, "w") as f:
    f.write("sold_on,model,country,units,unit_price_usd,fuel_type,transmission,color\n")
    for i in range(rows):
        y = 2015 + random.randrange(10)
        m = 1 + random.randrange(12)
        d = 1 + random.randrange(28)
        f.write(
            f"{y}-{m:02d}-{d:02d},{random.choice(models)},{random.choice(countries)},"
            f"{1 + random.randrange(5)},{40000 + random.randrange(60000)}.00,{random.choice(fuels)},"
            f"{'AUTOMATIC' if random.random() < 0.8 else 'MANUAL'},Black\n"
        )
