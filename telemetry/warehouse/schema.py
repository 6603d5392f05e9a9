"""The warehouse's tables: `clickhouse.sql` applied to a ClickHouse store (every statement is
IF NOT EXISTS). Called by the loader at start-up and by tests; any one thread per warehouse.
"""

from __future__ import annotations

from importlib import resources

from telemetry.contracts.clickhouse import Warehouse


def statements(script: str) -> list[str]:
    """The statements of a SQL script: `--` comments dropped, split on `;`."""
    code = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [statement.strip() for statement in code.split(";") if statement.strip()]


def apply_schema(warehouse: Warehouse) -> None:
    """Create the tables if they are missing (every statement is IF NOT EXISTS)."""
    script = resources.files(__package__).joinpath("clickhouse.sql").read_text()
    for statement in statements(script):
        warehouse.command(statement)
