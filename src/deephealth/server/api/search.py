"""Dataset and model search over the projects the caller belongs to, filtered in the database.

`GET /api/search/datasets` and `GET /api/search/models` take ``q`` (words that must all appear,
case-insensitively, in the name, the project's name, task or description, or, for datasets, the
dataset file's own name, description, task and classes; for models, the family's name, task and
description, *pretrained on* and the origin), ``task`` (the project's task), ``project_id``,
``limit`` (1..100) and ``offset``; they answer ``{"total", "limit", "offset", "items"}``, newest
first, each item with its project's id, name and task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from deephealth.server.api import serialize
from deephealth.server.db.models import Dataset, ModelFamily, ModelWeights, Project, ProjectMember
from deephealth.server.deps import Principal, get_db, require_user

router = APIRouter(tags=["search"])
MAX_WORDS = 8


def _like(column: Any, word: str) -> ColumnElement[bool]:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped.lower()}%", escape="\\")


def _matching(q: str, columns: list[Any]) -> ColumnElement[bool] | None:
    """Every word of `q` in at least one of `columns` (None: no words)."""
    words = q.split()[:MAX_WORDS]
    if not words:
        return None
    return and_(*(or_(*(_like(c, w) for c in columns)) for w in words))


@dataclass
class SearchQuery:
    """The query of a search endpoint, as a dependency: words, filters and the page."""

    q: str = Query(default="", max_length=200)
    task: str | None = Query(default=None, max_length=64)
    project_id: int | None = None
    limit: int = Query(default=20, ge=1, le=100)
    offset: int = Query(default=0, ge=0)

    def page(
        self, db: Session, principal: Principal, stmt: Any, columns: list[Any], order: Any
    ) -> tuple[dict[str, Any], list[Any]]:
        """Run `stmt` (a select joined with Project) limited to the caller's projects, the filters
        and the words over `columns`: the answer's ``total``/``limit``/``offset`` and the page's
        rows, newest (highest `order`) first."""
        stmt = stmt.join(ProjectMember, ProjectMember.project_id == Project.id).where(
            ProjectMember.user_id == principal.id
        )
        if self.task:
            stmt = stmt.where(Project.task == self.task)
        if self.project_id is not None:
            stmt = stmt.where(Project.id == self.project_id)
        cond = _matching(self.q, columns)
        if cond is not None:
            stmt = stmt.where(cond)
        total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = db.execute(stmt.order_by(order.desc()).limit(self.limit).offset(self.offset))
        return {"total": int(total), "limit": self.limit, "offset": self.offset}, list(rows.all())


def _project(p: Project) -> dict[str, Any]:
    return {"project_id": p.id, "project_name": p.name, "project_task": p.task}


@router.get("/api/search/datasets")
def search_datasets(
    query: SearchQuery = Depends(),
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """Datasets of the caller's projects matching `q` (and `task`, `project_id`), paginated."""
    stmt = select(Dataset, Project).join(Project, Dataset.project_id == Project.id)
    cols = [Dataset.name, cast(Dataset.stats, String), Project.name, Project.task,
            Project.description]  # fmt: skip
    answer, rows = query.page(db, principal, stmt, cols, Dataset.id)
    return {**answer, "items": [{**serialize.dataset(d), **_project(p)} for d, p in rows]}


@router.get("/api/search/models")
def search_models(
    query: SearchQuery = Depends(),
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """Models (ONNX weights) of the caller's projects matching `q`, paginated."""
    stmt = (
        select(ModelWeights, Project, ModelFamily)
        .join(Project, ModelWeights.project_id == Project.id)
        .outerjoin(ModelFamily, ModelWeights.family_id == ModelFamily.id)
    )
    cols = [ModelWeights.name, ModelWeights.pretrained_on, ModelWeights.origin, ModelFamily.name,
            ModelFamily.task, ModelFamily.description, Project.name, Project.task,
            Project.description]  # fmt: skip
    answer, rows = query.page(db, principal, stmt, cols, ModelWeights.id)
    items = [
        {**serialize.weights(w), **_project(p), "family": f.name if f is not None else None}
        for w, p, f in rows
    ]
    return {**answer, "items": items}
