"""`XGBoost`, as `sagemaker.xgboost.XGBoost`: an XGBoost script run as a local process."""

from __future__ import annotations

from typing import Any, ClassVar

from tunestream.sdk.estimator import Framework


class XGBoost(Framework):
    """An XGBoost training script (`entry_point` in `source_dir`); versions are recorded only."""

    DEFAULT_BASE_NAME: ClassVar[str | None] = "sagemaker-xgboost"

    def __init__(
        self,
        entry_point: str | None = None,
        framework_version: str | None = None,
        source_dir: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        py_version: str = "py3",
        image_uri: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            entry_point,
            source_dir,
            hyperparameters,
            image_uri,
            framework_version=framework_version,
            py_version=py_version,
            **kwargs,
        )
