"""Error and issue types of the dataset part of ECVL (format, validation, loading).

Every error names the YAML file and, where the problem sits in it, the line and column; loading
errors name the sample index and its location, so a failing sample can be found and fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from deephealth.ecvl.errors import EcvlError


class DatasetError(EcvlError):
    """Base class of dataset errors."""


@dataclass(frozen=True)
class DatasetIssue:
    """One problem found in a dataset file.

    Attributes:
        file: The YAML file.
        line: 1-based line (0 when the problem is not tied to a line).
        column: 1-based column.
        severity: ``"error"`` or ``"warning"``.
        code: Short machine-readable kind (``missing-file``, ``unknown-class`` ...).
        message: Human-readable description.
    """

    file: str
    line: int
    column: int
    severity: str
    code: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.code}]"
        )


class DatasetSyntaxError(DatasetError, ValueError):
    """The dataset file is not valid YAML.

    Attributes:
        file: The YAML file.
        line: 1-based line.
        column: 1-based column.
        expected: What the YAML parser expected.
        found: What it found.
    """

    def __init__(self, file: str, line: int, column: int, expected: str, found: str) -> None:
        self.file, self.line, self.column, self.expected, self.found = (
            file, line, column, expected, found,
        )  # fmt: skip
        super().__init__(f"{file}:{line}:{column}: expected {expected}, found {found}")


class DatasetLimitError(DatasetSyntaxError):
    """The dataset file exceeds a bound (size, nesting depth, alias expansion) or is not text.

    Attributes:
        cause: Which bound, in words (``line``/``column`` locate it when known, else 0).
    """

    def __init__(self, file: str, line: int, column: int, cause: str) -> None:
        super().__init__(file, line, column, "a bounded YAML document", cause)
        self.cause = cause
        self.args = (f"{file}:{line}:{column}: {cause}",)

    def __str__(self) -> str:
        return self.args[0]


class DatasetFormatError(DatasetError):
    """The dataset file is valid YAML but breaks the DeepHealth format (all problems listed).

    Attributes:
        issues: Every :class:`DatasetIssue` of severity error.
    """

    def __init__(self, file: str, issues: list[DatasetIssue]) -> None:
        self.file = file
        self.issues = list(issues)
        lines = "\n".join(f"  {i}" for i in self.issues)
        super().__init__(f"{file}: {len(self.issues)} problem(s) in the dataset file:\n{lines}")


class SampleLoadError(DatasetError):
    """A sample could not be loaded or augmented.

    Attributes:
        index: Sample index in the dataset.
        location: The sample's location(s).
        cause: What went wrong.
    """

    def __init__(self, index: int, location: object, cause: str) -> None:
        self.index, self.location, self.cause = index, location, cause
        super().__init__(f"sample {index} ({location}): {cause}")

    def __reduce__(self):  # picklable across worker processes
        return (SampleLoadError, (self.index, self.location, self.cause))
