"""Example 3 of the original design, table data (Arrow IPC): a pandas
DataFrame sent on /data/analysis, received as a pyarrow.Table.

    NATS_URL=nats://localhost:4222 python examples/python/table.py"""

import os

import pandas as pd

import natsbridge

nats_url = os.environ.get("NATS_URL", "nats://localhost:4222")
subject = f"/data/analysis/python-{os.getpid()}"
df = pd.DataFrame({"id": [1, 2, 3], "name": ["Alice", "Bob", "Charlie"], "score": [95, 88, 92]})

with natsbridge.Bridge(nats_url) as bridge, bridge.subscribe(subject) as inbox:
    bridge.send(subject, [("students", df, "table")])
    envelope = inbox.next(timeout=30)

assert envelope is not None, "no message within 30 s"
(dataname, table, kind), *_ = envelope["payloads"]
print(f"{dataname} ({kind}): {table.num_rows} rows, columns {table.column_names}")
assert table.to_pandas().equals(df)
print("example ok: table")
