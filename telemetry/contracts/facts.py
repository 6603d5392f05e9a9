"""The report's engine tables and the one parse that fills them: `facts.sql` (the tables) and
`facts_views.sql` (materialised views from an `events` table into them), as statements to run on a
ClickHouse store. Used by the warehouse's schema and the report's mirror of a SQLite store; pure
code, any thread.
"""

from __future__ import annotations

import re
from importlib import resources

# The parsing rules of facts.sql's header on a property `p.name` extracted as `Dynamic`.
_INT = (
    "coalesce(dynamicElement(p.{0}, 'Int64'), if(dynamicElement(p.{0}, 'Float64')"
    " = floor(dynamicElement(p.{0}, 'Float64')) AND abs(dynamicElement(p.{0}, 'Float64'))"
    " < 9.2e18, toInt64(dynamicElement(p.{0}, 'Float64')), NULL))"
)
_MACROS = {
    "INT": _INT,
    "INT_LIT": "dynamicElement(p.{0}, 'Int64')",
    "SIZE": f"if({_INT} > 0, {_INT}, NULL)",
}
_MACRO = re.compile(r"@(INT_LIT|INT|SIZE)\((\w+)\)")


def statements(script: str) -> list[str]:
    """The statements of a SQL script: `--` comments dropped, split on `;`."""
    code = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [statement.strip() for statement in code.split(";") if statement.strip()]


def table_statements() -> list[str]:
    """CREATE TABLE IF NOT EXISTS for `facts` and `served_rows`."""
    return statements(_read("facts.sql"))


def view_statements() -> list[str]:
    """CREATE MATERIALIZED VIEW IF NOT EXISTS from `events` into the tables (run after both)."""
    script = _MACRO.sub(lambda m: _MACROS[m[1]].format(m[2]), _read("facts_views.sql"))
    return statements(script)


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text()
