"""The DeepHealth dataset format (YAML), its validator and generators, and the DLDataset loader.

See ``docs/dataset-format.md``.
"""

from deephealth.ecvl.dataset.dataset import Dataset
from deephealth.ecvl.dataset.dldataset import DatasetAugmentations, DLDataset
from deephealth.ecvl.dataset.errors import (
    DatasetError,
    DatasetFormatError,
    DatasetIssue,
    DatasetLimitError,
    DatasetSyntaxError,
    SampleLoadError,
)
from deephealth.ecvl.dataset.generators import (
    GenerateClassificationDataset,
    GenerateDataset,
    GenerateSegmentationDataset,
)
from deephealth.ecvl.dataset.model import Sample, Split, SplitType, Task
from deephealth.ecvl.dataset.queue import ProducersConsumerQueue, ThreadCounters
from deephealth.ecvl.dataset.samplers import PatchSampler
from deephealth.ecvl.dataset.validate import ValidateDataset

__all__ = [
    "Dataset",
    "DatasetAugmentations",
    "DatasetError",
    "DatasetFormatError",
    "DatasetIssue",
    "DatasetLimitError",
    "DatasetSyntaxError",
    "DLDataset",
    "GenerateClassificationDataset",
    "GenerateDataset",
    "GenerateSegmentationDataset",
    "PatchSampler",
    "Sample",
    "SampleLoadError",
    "Split",
    "SplitType",
    "Task",
    "ValidateDataset",
    "ProducersConsumerQueue",
    "ThreadCounters",
]
