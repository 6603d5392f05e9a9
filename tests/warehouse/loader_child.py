"""A loader that kills itself (SIGKILL) right after its first batch (at most 16 records) is
inserted, before the offsets are committed: the worst moment for a loader to die. Run as a
child by test_loader.py:

    python -m tests.warehouse.loader_child KAFKA_URL CHDB_URL GROUP
"""

from __future__ import annotations

import os
import signal
import sys

from telemetry.contracts.clickhouse import Warehouse
from telemetry.warehouse.schema import apply_schema
from tests.warehouse.pipeline import make_loader


class DyingWarehouse(Warehouse):
    def insert(self, table: str, lines: list[bytes]) -> None:
        super().insert(table, lines)
        if table == "receipts":  # the batch's last insert
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    kafka_url, warehouse_url, group = sys.argv[1:4]
    warehouse = DyingWarehouse(warehouse_url)
    apply_schema(warehouse)
    # A small batch, so part of the topic is still to load when it dies.
    loader = make_loader(kafka_url, warehouse, group=group, max_batch=16)
    loader.subscribe()
    while True:
        loader.step()


if __name__ == "__main__":
    main()
