"""Keep server paths out of what the API answers.

Job configs, results, events and error messages are produced by the pipelines with absolute
paths (the run folder, the dataset YAML, the weights file). Before they are returned, paths inside
the job's run folder become relative to it (usable with `GET /api/jobs/{id}/files/{name}`), other
paths inside the server's data folder become `<data>/...`, and the same replacement is applied to
free text (error messages).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DATA_MARK = "<data>"


class Redactor:
    """Replaces the run folder and the data folder in strings and JSON values."""

    def __init__(self, data_dir: str | Path, run_dir: str | Path | None = None) -> None:
        self.data_dir = str(Path(data_dir))
        self.run_dir = str(Path(run_dir)) if run_dir else None

    @classmethod
    def for_run(cls, run_dir: str | Path) -> Redactor:
        """The redactor of a job whose run folder is `DATA/runs/<id>`."""
        run = Path(run_dir)
        return cls(run.parent.parent, run)

    def text(self, value: str) -> str:
        """`value` with the run folder made relative and the data folder hidden."""
        if self.run_dir:
            if value.startswith(self.run_dir + "/"):
                value = value[len(self.run_dir) + 1 :]
            value = value.replace(self.run_dir + "/", "").replace(self.run_dir, ".")
        return value.replace(self.data_dir, DATA_MARK)

    def json(self, value: Any) -> Any:
        """A JSON value with every string passed through `text`."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(v) for v in value]
        return value
