"""Where a training runs: in the worker (`launcher="local"`, the default) or handed to the
distributed launcher (`launcher="distributed"`).

The local path calls the pipelines run API, `deephealth.pipelines.run.train`
(`deephealth.pipelines.signals.run.train_signal_run` for a signal_classification config, which
always trains on one process; whole-slide trainings:
`deephealth.pipelines.pathology.pipeline.train_slides`, always local). The distributed path
is a hook for the distributed launcher (N processes on this machine, or a SLURM submission): it
calls `deephealth.pipelines.parallel.launch_training(config, run_dir, on_event=..., should_stop=...,
resume=..., **launcher_options)`, which must block until the run ends and return the same dict as
`train`. Until that function exists, a job sent there fails with a message naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from deephealth.errors import ServerError
from deephealth.server.config import ServerConfig

DISTRIBUTED_MODULE = "deephealth.pipelines.parallel"
DISTRIBUTED_FUNCTION = "launch_training"


class LauncherUnavailable(ServerError, RuntimeError):
    """The configured launcher cannot be used."""


def launch_training(
    server: ServerConfig,
    config: dict,
    run_dir: Path,
    on_event: Callable[[dict], None],
    should_stop: Callable[[], bool],
    resume: bool,
) -> dict:
    """Run one training to its end and return the pipelines result dict.

    Raises:
        LauncherUnavailable: when `launcher="distributed"` and the hook is missing.
    """
    from deephealth.server.tasks import is_slide_task

    if is_slide_task(str(config.get("task"))):  # the slide pipelines train in the worker
        from deephealth.pipelines.pathology.pipeline import train_slides

        return train_slides(config, run_dir, on_event, resume=resume, should_stop=should_stop)
    if config.get("task") == "signal_classification":  # streams its own windows, on one process
        from deephealth.pipelines.signals.run import train_signal_run

        return train_signal_run(
            config, run_dir, on_event=on_event, should_stop=should_stop, resume=resume
        )
    if server.launcher == "local":
        from deephealth.pipelines.run import train

        return train(config, run_dir, on_event=on_event, should_stop=should_stop, resume=resume)
    try:
        module = importlib.import_module(DISTRIBUTED_MODULE)
        launch = getattr(module, DISTRIBUTED_FUNCTION)
    except (ImportError, AttributeError):
        raise LauncherUnavailable(
            f"launcher='distributed' is configured but {DISTRIBUTED_MODULE}."
            f"{DISTRIBUTED_FUNCTION}(config, run_dir, on_event, should_stop, resume, **options) "
            "does not exist; set launcher='local'"
        ) from None
    return launch(
        config,
        run_dir,
        on_event=on_event,
        should_stop=should_stop,
        resume=resume,
        **server.launcher_options,
    )
