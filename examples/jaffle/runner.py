"""The jaffle tool's actual job: run each ``models/*.sql`` against an embedded SQLite database.

Nothing here knows about telemetry; ``__main__.py`` wraps it, the way a real tool would.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_FILE = "jaffle_project.yml"
_MATERIALIZED = re.compile(r"--\s*materialized:\s*(table|view)", re.IGNORECASE)


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    sql: str
    materialization: str


@dataclass(frozen=True)
class ModelResult:
    model: Model
    status: str  # "success" | "error"
    execution_time_s: float
    message: str


def find_project(start: str) -> Path | None:
    here = Path(start).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    return None


def load_models(project: Path) -> list[Model]:
    models = []
    for path in sorted((project / "models").glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        match = _MATERIALIZED.search(sql)
        name = re.sub(r"^\d+_", "", path.stem)
        models.append(Model(name, path, sql, match.group(1).lower() if match else "table"))
    return models


def run_models(project: Path, models: list[Model]):
    """Yield one result per model, in file order; the database lives in ``target/``."""
    target = project / "target"
    target.mkdir(exist_ok=True)
    db = sqlite3.connect(os.fspath(target / "jaffle.db"))
    try:
        for model in models:
            started = time.perf_counter()
            body = "\n".join(
                line for line in model.sql.splitlines() if not line.strip().startswith("--")
            )
            kind = "VIEW" if model.materialization == "view" else "TABLE"
            try:
                existing = db.execute(
                    "SELECT type FROM sqlite_master WHERE name = ?", (model.name,)
                ).fetchone()
                if existing:
                    db.execute(f'DROP {existing[0].upper()} "{model.name}"')
                db.execute(f'CREATE {kind} "{model.name}" AS {body}')
                rows = db.execute(f'SELECT COUNT(*) FROM "{model.name}"').fetchone()[0]
                db.commit()
                status, message = "success", f"{kind.lower()} with {rows} rows"
            except sqlite3.Error as exc:
                status, message = "error", str(exc)
            yield ModelResult(model, status, time.perf_counter() - started, message)
    finally:
        db.close()
