"""The GPUs of the launcher's host, named by the ids that CUDA_VISIBLE_DEVICES and Docker's
device requests accept."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path


def detect_gpus(setting: str) -> list[str]:
    """`setting` is "auto" (ask nvidia-smi, else count /dev/nvidiaN), "none", or a comma list of ids."""
    value = setting.strip().lower()
    if value in ("", "none", "0"):
        return []
    if value != "auto":
        return [part.strip() for part in setting.split(",") if part.strip()]
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
            )
            if out.returncode == 0:
                return [line.strip() for line in out.stdout.splitlines() if line.strip().isdigit()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    devices = [p.name for p in Path("/dev").glob("nvidia*") if re.fullmatch(r"nvidia\d+", p.name)]
    return sorted((name.removeprefix("nvidia") for name in devices), key=int)
