"""Pipeline tasks, one module per task type; `TASKS` maps the config's `task` to its class."""

from deephealth.pipelines.tasks.base import Task
from deephealth.pipelines.tasks.classification import ClassificationTask
from deephealth.pipelines.tasks.clinical import (
    MultimodalClassificationTask,
    ScalarRegressionTask,
    SurvivalTask,
)
from deephealth.pipelines.tasks.detection import DetectionTask
from deephealth.pipelines.tasks.regression import RegressionTask
from deephealth.pipelines.tasks.report_generation import ReportGenerationTask
from deephealth.pipelines.tasks.segmentation import SegmentationTask
from deephealth.pipelines.tasks.signal_classification import SignalClassificationTask

TASKS: dict[str, type[Task]] = {
    "classification": ClassificationTask,
    "segmentation": SegmentationTask,
    "regression": RegressionTask,
    "scalar_regression": ScalarRegressionTask,
    "multimodal_classification": MultimodalClassificationTask,
    "survival": SurvivalTask,
    "detection": DetectionTask,
    "signal_classification": SignalClassificationTask,  # type: ignore[dict-item]
    # runs its own streaming pipeline (`deephealth.cli.reports`), as signal_classification
    "report_generation": ReportGenerationTask,  # type: ignore[dict-item]
}

__all__ = [
    "TASKS", "ClassificationTask", "DetectionTask", "MultimodalClassificationTask", "RegressionTask", "ReportGenerationTask", "ScalarRegressionTask", "SegmentationTask", "SignalClassificationTask",
    "SurvivalTask", "Task",
]  # fmt: skip
