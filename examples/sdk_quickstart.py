"""The README's SDK snippet: the XGBoost example tuned through tunestream.sdk (run from the repository root)."""

from tunestream.sdk.estimator import Estimator
from tunestream.sdk.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

estimator = Estimator(
    entry_point="train.py",
    source_dir="examples/xgboost_breast_cancer",
    instance_type="local",
    hyperparameters={"num_round": 50, "objective": "binary:logistic"},
)
tuner = HyperparameterTuner(
    estimator,
    objective_metric_name="validation:auc",
    hyperparameter_ranges={
        "eta": ContinuousParameter(0.01, 0.5, scaling_type="Logarithmic"),
        "max_depth": IntegerParameter(1, 10),
    },
    metric_definitions=[{"Name": "validation:auc", "Regex": "validation:auc=([0-9\\.]+)"}],
    strategy="Random",
    max_jobs=6,
    max_parallel_jobs=2,
    random_seed=42,
)
tuner.fit(wait=True)  # progress while it runs
print(tuner.best_training_job(), tuner.best_estimator().hyperparameters())
df = tuner.analytics().dataframe()  # one row per training job
print(df.sort_values("FinalObjectiveValue").tail(3))
