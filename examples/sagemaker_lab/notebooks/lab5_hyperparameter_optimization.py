# ruff: noqa: E402, F401, I001
# fmt: off
# ---
# "Lab: Hyperparameter Tuning" (workshop page "Hyperparameter Optimization"), cell by cell.
#
# The code cells below are the lab's, verbatim: only the `from sagemaker...` imports were changed
# to `from tunestream.sdk...`. The setup cell stands for the original notebook's first cells
# (`role = sagemaker.get_execution_role()`, `bucket = sagemaker.Session().default_bucket()`);
# nothing is uploaded, so the training script generates its data.
#
# Run it with ../run.py (figures are saved as PNG files), or `MPLBACKEND=Agg python <this file>`
# from this folder. See ../README.md.
# ---

# %% Setup
from tunestream.sdk.session import Session, get_execution_role

role = get_execution_role()
bucket = Session().default_bucket()

# %% [markdown]
# ### Step 1: Define Hyperparameter Ranges

# %%
from tunestream.sdk.tuner import (
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
from tunestream.sdk.pytorch import PyTorch

estimator = PyTorch(
    entry_point='train_fsdp.py',
    source_dir='../sample-migration-of-training-medical-imaging-modes-from-ec2-to-sagemaker/medical-image-segmentation/code/training',
    role=role,
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

# %% [markdown]
# ### Visualization

# %%
import pandas as pd
import matplotlib.pyplot as plt

# Get all training jobs
analytics = tuner.analytics()
df = analytics.dataframe()

# Plot learning rate vs dice score
plt.figure(figsize=(10, 6))
plt.scatter(df['lr'], df['val:dice'], alpha=0.6)
plt.xscale('log')
plt.xlabel('Learning Rate')
plt.ylabel('Dice Score')
plt.title('Learning Rate vs Dice Score')
plt.show()

# Plot parallel coordinates
from pandas.plotting import parallel_coordinates
parallel_coordinates(df, 'val:dice', colormap='viridis')
plt.show()

# %% [markdown]
# ### Convergence Plot

# %%
# Plot best objective over time
best_scores = []
for i in range(len(df)):
    best_scores.append(df['val:dice'][:i+1].max())

plt.plot(best_scores)
plt.xlabel('Trial Number')
plt.ylabel('Best Dice Score')
plt.title('Tuning Convergence')
plt.show()

# %% [markdown]
# ### Hyperparameter Importance

# %%
# Correlation between hyperparameters and objective
correlations = df[['lr', 'batch_size', 'dropout', 'val:dice']].corr()['val:dice']
print(correlations.sort_values(ascending=False))

# Output:
# val:dice        1.000000
# lr              0.456789  # Strong positive correlation
# dropout        -0.234567  # Weak negative correlation
# batch_size      0.123456  # Weak positive correlation
