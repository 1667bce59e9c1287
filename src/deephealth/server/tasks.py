"""The task types a project can have and the model families each accepts.

The task types are those of the pipelines (`deephealth.pipelines.tasks.TASKS`: classification and
segmentation of 2D images or 3D volumes, image-to-image regression, signal classification), then
the whole-slide ones of the slide pipelines (`slide_classification`, `patch_segmentation`:
`deephealth.pipelines.pathology`, trained on tiles streamed from the slides); a family fits a
task when its zoo kind is the kind the task's pipeline builds (`Task.model_kind`: classifiers,
dense image-to-image networks, 1D signal networks; patch classifiers and dense patch
segmenters for slides), so the training form offers only families the pipeline then accepts.
"""

from __future__ import annotations

SLIDE_KINDS = {"slide_classification": "classifier", "patch_segmentation": "dense"}
"""The whole-slide task types (`deephealth.pipelines.pathology.config.SLIDE_TASKS`) and the zoo
kind of their patch model."""


def task_names() -> list[str]:
    """Every task type a project may have, in the pipelines' registry order, slides last."""
    from deephealth.pipelines.tasks import TASKS

    return [*TASKS, *SLIDE_KINDS]


def is_slide_task(task: str) -> bool:
    """Whether `task` is trained by the slide pipelines (tiles of whole slides)."""
    return task in SLIDE_KINDS


def model_kinds(task: str) -> tuple[str, ...]:
    """The zoo kinds (`classifier`, `dense`, `signal`, ...) the task's pipeline may build; a task
    whose kind depends on its data (detection: `detector` for images, `detector3d` for volumes)
    lists each."""
    from deephealth.pipelines.tasks import TASKS

    if task in SLIDE_KINDS:
        return (SLIDE_KINDS[task],)
    cls = TASKS[task]
    kind = cls.__dict__.get("model_kind", getattr(cls, "model_kind", None))
    if isinstance(kind, property):
        return tuple(getattr(cls, "zoo_kinds", ()))
    return (str(kind),)


def model_kind(task: str) -> str:
    """The zoo kind(s) the task's pipeline needs, for messages (`classifier`, `detector or
    detector3d`)."""
    return " or ".join(model_kinds(task))


def family_fits(family: str, task: str) -> bool:
    """Whether the zoo family `family` can be trained for `task` (unknown families: no)."""
    from deephealth.eddl.zoo import MODELS

    entry = MODELS.get(family.lower())
    return entry is not None and task in task_names() and entry[1] in model_kinds(task)
