"""The chaos test's training program: a short sleep, one objective line, and a record of every run.

It touches `<CHAOS_RECORD_DIR>/starts/<training job>.<pid>` when it starts and
`<CHAOS_RECORD_DIR>/done/<training job>.<pid>` after printing its objective, so the test counts
actual program starts and completions, whatever the services say. The objective depends only on the
hyperparameters, so a run and its undisturbed twin (same RandomSeed) have the same best training job.
"""

import json
import os
import time
from pathlib import Path

hps = json.loads(os.environ["SM_HPS"])
record = Path(os.environ["CHAOS_RECORD_DIR"])
me = f"{os.environ['SM_TRAINING_JOB_NAME']}.{os.getpid()}"
(record / "starts").mkdir(parents=True, exist_ok=True)
(record / "starts" / me).touch()
time.sleep(float(hps.get("sleep", "0")))  # long enough for a kill to catch some runs
x, n = float(hps["x"]), int(hps["n"])
score = 1.0 - (x - 0.3) ** 2 - 0.01 * abs(n - 7) + (0.05 if hps["kind"] == "b" else 0.0)
print(f"score={score!r}", flush=True)
(record / "done").mkdir(parents=True, exist_ok=True)
(record / "done" / me).touch()
