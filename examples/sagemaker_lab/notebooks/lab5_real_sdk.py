# ruff: noqa: E402, F401, I001
# fmt: off
# ---
# "Lab: Hyperparameter Tuning" (workshop page "Hyperparameter Optimization") with SageMaker's own
# Python SDK (sagemaker 2.257, deploy/sagemaker-sdk.sh): Steps 1-5 with the lab's own imports
# (`from sagemaker.tuner import ...`, `from sagemaker.pytorch import PyTorch`). Nothing here names
# tunestream: boto3's AWS_ENDPOINT_URL_SAGEMAKER / AWS_ENDPOINT_URL_S3 point the SDK at it, and the
# SDK's own config file names the default bucket (../README.md, "With SageMaker's own SDK").
#
# What differs from the lab, each for a reason outside tunestream's reach:
# - the setup cell: outside a SageMaker notebook `sagemaker.get_execution_role()` asks AWS STS at an
#   endpoint the SDK builds itself (no variable redirects it), so the role comes from
#   SAGEMAKER_ROLE_ARN (tunestream keeps RoleArn as inert); and the session is made with
#   `encrypt_repacked_artifacts=False`, passed to the estimator (`sagemaker_session=session`, the one
#   argument added to Step 3): otherwise the SDK uploads sourcedir.tar.gz with
#   `ServerSideEncryption: aws:kms`, which needs a KMS that the stack's S3 store does not have
#   (SeaweedFS answers InternalError; its only self-contained KMS keeps keys in memory, so what it
#   encrypted could not be read after a restart);
# - the lab's plots are left out: they read `df['val:dice']`, a column SageMaker's
#   `analytics().dataframe()` does not have (it calls the objective FinalObjectiveValue), so they fail
#   on AWS as they would here; lab5_hyperparameter_optimization.py, on tunestream's SDK, draws them.
# ---

# %% Setup
import os
import sagemaker
from sagemaker.session_settings import SessionSettings

role = os.environ["SAGEMAKER_ROLE_ARN"]
session = sagemaker.Session(settings=SessionSettings(encrypt_repacked_artifacts=False))
bucket = session.default_bucket()

# %% [markdown]
# ### Step 1: Define Hyperparameter Ranges

# %%
from sagemaker.tuner import (
    HyperparameterTuner,
    IntegerParameter,
    ContinuousParameter,
    CategoricalParameter
)

hyperparameter_ranges = {
    'lr': ContinuousParameter(1e-5, 1e-3, scaling_type='Logarithmic'),
    'batch_size': CategoricalParameter([1, 2, 4]),
    'dropout': ContinuousParameter(0.1, 0.5),
    'init_filters': CategoricalParameter([8, 16, 32])
}

# %% [markdown]
# ### Step 2: Define Objective Metric

# %%
# Metric to optimize (must be logged in training script)
objective_metric_name = 'val:dice'
objective_type = 'Maximize'  # or 'Minimize' for loss

# Training script must print:
# val:dice=0.8756

# %% [markdown]
# ### Step 3: Create Base Estimator

# %%
from sagemaker.pytorch import PyTorch

estimator = PyTorch(
    entry_point='train_fsdp.py',
    source_dir='../sample-migration-of-training-medical-imaging-modes-from-ec2-to-sagemaker/medical-image-segmentation/code/training',
    role=role,
    sagemaker_session=session,
    instance_type='ml.g5.xlarge',
    instance_count=1,
    framework_version='2.4.0',
    py_version='py311',
    hyperparameters={
        'model_name': 'SegResNet',
        'epochs': 10,
        'val_interval': 2
    }
)

# %% [markdown]
# ### Step 4: Create Tuning Job

# %%
tuner = HyperparameterTuner(
    estimator=estimator,
    objective_metric_name=objective_metric_name,
    hyperparameter_ranges=hyperparameter_ranges,
    metric_definitions=[
        {'Name': 'val:dice', 'Regex': 'val:dice=([0-9\\.]+)'},
        {'Name': 'train:loss', 'Regex': 'train:loss=([0-9\\.]+)'}
    ],
    max_jobs=20,           # Total experiments
    max_parallel_jobs=4,   # Run 4 at a time
    objective_type=objective_type,
    strategy='Bayesian'    # Bayesian optimization
)

# Start tuning
tuner.fit({'training': f's3://{bucket}/segmentation/processed/'})

# %% [markdown]
# ### Step 5: Monitor Tuning Job

# %%
# Check status
tuner.describe()

# View best training job
best_job = tuner.best_training_job()
print(f"Best job: {best_job}")

# Get best hyperparameters
best_hyperparameters = tuner.best_estimator().hyperparameters()
print(f"Best hyperparameters: {best_hyperparameters}")
