"""What the Python test clients share: counting checks, stopping at the first one that fails,
and leaving without the interpreter's teardown.

Arrow's native thread pools (pyarrow, and pandas, which loads Arrow) can abort that teardown
with "terminate called without an active exception" after every check has run
(apache/arrow#34314), which would turn a passing run into a failure that says nothing about
salesgraph.
"""

import os
import sys

passed = 0


def check(condition, what):
    global passed
    if not condition:
        print(f"FAILED: {what}")
        leave(1)
    passed += 1


def leave(code):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
