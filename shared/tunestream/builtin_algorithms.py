"""SageMaker built-in algorithms that tunestream stands in for (today: XGBoost).

A tuning job written for AWS names the built-in XGBoost by its ECR image (what
`sagemaker.image_uris.retrieve("xgboost", region, "1.7-1")` returns: `<account>.dkr.ecr.<region>.
amazonaws.com/sagemaker-xgboost:<version>`) or by `AlgorithmName` "xgboost", and leaves out
MetricDefinitions: the built-in algorithm's metrics are known to SageMaker. tunestream cannot pull
that image, so its launchers run a program of its own that honours the algorithm's interface
(hyperparameters.json, train/validation channels in CSV or LibSVM, `xgboost-model` in the model
folder, several instances training together) and prints the evaluation lines the built-in prints,
which these MetricDefinitions read. `tunestream.algorithms.xgboost_stand_in` is that program.
"""

from __future__ import annotations

import re
from typing import Literal

BuiltinAlgorithm = Literal["xgboost"]

# The built-in XGBoost's images in every region and partition: sagemaker-xgboost (0.90 onwards) and
# the legacy xgboost repository (0.72).
_XGBOOST_IMAGE = re.compile(
    r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/(sagemaker-xgboost|xgboost):[A-Za-z0-9._-]+$"
)
_XGBOOST_NAMES = {"xgboost", "sagemaker-xgboost"}

# What the built-in XGBoost reports (the SageMaker developer guide's "Metrics computed by the XGBoost
# algorithm"), for the train and the validation channel.
XGBOOST_METRICS = (
    "accuracy",
    "auc",
    "aucpr",
    "error",
    "f1",
    "logloss",
    "mae",
    "map",
    "merror",
    "mlogloss",
    "mse",
    "ndcg",
    "rmse",
    "r2",
)
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def builtin_algorithm(training_image: str | None, algorithm_name: str | None) -> BuiltinAlgorithm | None:
    """Which built-in algorithm a TrainingImage or AlgorithmName names, if one tunestream stands in for."""
    if training_image and _XGBOOST_IMAGE.match(training_image):
        return "xgboost"
    if algorithm_name and algorithm_name.lower() in _XGBOOST_NAMES:
        return "xgboost"
    return None


def metric_definitions(algorithm: BuiltinAlgorithm) -> list[dict[str, str]]:
    """The algorithm's MetricDefinitions, as SageMaker defines them for it: `validation:auc` reads
    `[12]<tab>train-auc:0.98<tab>validation-auc:0.97` (CloudWatch writes the tab as #011)."""
    return [
        {
            "Name": f"{channel}:{metric}",
            "Regex": rf".*\[[0-9]+\].*(?:#011|\t){channel}-{metric}:{_NUMBER}",
        }
        for channel in ("train", "validation")
        for metric in XGBOOST_METRICS
    ]


def stand_in_module(algorithm: BuiltinAlgorithm) -> str:
    """The Python module a launcher runs (`python -m`) in place of the built-in algorithm's image."""
    return {"xgboost": "tunestream.algorithms.xgboost_stand_in"}[algorithm]
