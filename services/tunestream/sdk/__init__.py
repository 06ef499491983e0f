"""tunestream's Python SDK, shaped like the SageMaker Python SDK's tuning parts.

Change the imports of a notebook written for SageMaker Automatic Model Tuning and it runs against a
tunestream api:

    from sagemaker.tuner import HyperparameterTuner, ...  ->  from tunestream.sdk.tuner import ...
    from sagemaker.pytorch import PyTorch                 ->  from tunestream.sdk.pytorch import PyTorch
    from sagemaker import Session, get_execution_role     ->  from tunestream.sdk import Session, get_execution_role

Modules: `tuner` (HyperparameterTuner, parameter ranges, warm start, early stopping), `estimator`
(Estimator), `pytorch` / `sklearn` / `xgboost` (script-mode estimators), `inputs` (TrainingInput),
`analytics` (DataFrames of results), `session` (Session, get_execution_role), `exceptions`.
"""

from tunestream.sdk.session import Session, get_execution_role

__all__ = ["Session", "get_execution_role"]
