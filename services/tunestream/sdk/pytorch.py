"""`PyTorch`, as `sagemaker.pytorch.PyTorch`: a script-mode estimator run as a local process."""

from __future__ import annotations

from typing import Any, ClassVar

from tunestream.sdk.estimator import Framework


class PyTorch(Framework):
    """A PyTorch training script (`entry_point` in `source_dir`).

    framework_version and py_version are recorded only: the script runs with the Python interpreter
    of the process that builds the tuning job (`sys.executable`), so install torch there.
    `distribution` is accepted and ignored (one process per training job).
    """

    DEFAULT_BASE_NAME: ClassVar[str | None] = "pytorch-training"

    def __init__(
        self,
        entry_point: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        source_dir: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        image_uri: str | None = None,
        distribution: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            entry_point,
            source_dir,
            hyperparameters,
            image_uri,
            framework_version=framework_version,
            py_version=py_version,
            distribution=distribution,
            **kwargs,
        )
        self.distribution = distribution or {}
