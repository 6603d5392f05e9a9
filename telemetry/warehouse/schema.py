"""The warehouse's tables: `clickhouse.sql` applied to a ClickHouse store, then the report's
engine tables and the materialised views that fill them from `events` on every insert
(`telemetry/contracts/facts.py`; every statement is IF NOT EXISTS). Called by the loader at
start-up and by tests; any one thread per warehouse.
"""

from __future__ import annotations

from importlib import resources

from telemetry.contracts import facts
from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.facts import statements


def apply_schema(warehouse: Warehouse) -> None:
    """Create the tables and views if they are missing (every statement is IF NOT EXISTS)."""
    script = resources.files(__package__).joinpath("clickhouse.sql").read_text()
    for statement in [*statements(script), *facts.table_statements(), *facts.view_statements()]:
        warehouse.command(statement)
