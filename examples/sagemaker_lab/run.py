"""Run the lab notebook script as a notebook kernel would, without a display.

    python examples/sagemaker_lab/run.py [--figures DIR] [NOTEBOOK]

- runs NOTEBOOK (default notebooks/lab5_hyperparameter_optimization.py) with the notebooks folder as
  the working directory, so the lab's relative source_dir resolves as in the original notebook;
- uses matplotlib's Agg backend and saves every figure a `plt.show()` would have shown as
  DIR/figure-NN.png (default: examples/sagemaker_lab/figures);
- points the SDK at this checkout's stack settings (.stack/stack.env) unless TUNESTREAM_ENV_FILE is set;
  TUNESTREAM_API_URL says where the api is (default http://127.0.0.1:8080).
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFAULT_NOTEBOOK = HERE / "notebooks" / "lab5_hyperparameter_optimization.py"


def _save_instead_of_show(folder: Path) -> None:
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    shown = 0

    def show(*args: Any, **kwargs: Any) -> None:
        nonlocal shown
        for number in plt.get_fignums():
            shown += 1
            path = folder / f"figure-{shown:02d}.png"
            plt.figure(number).savefig(path, dpi=80, bbox_inches="tight")
            print(f"[figure saved: {path}]", flush=True)
        plt.close("all")

    plt.show = show


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(DEFAULT_NOTEBOOK))
    parser.add_argument("--figures", default=os.environ.get("LAB_FIGURES_DIR", str(HERE / "figures")))
    args = parser.parse_args()
    notebook = Path(args.notebook).resolve()
    figures = Path(args.figures).resolve()
    os.environ.setdefault("MPLBACKEND", "Agg")
    env_file = ROOT / ".stack" / "stack.env"
    if "TUNESTREAM_ENV_FILE" not in os.environ and env_file.is_file():
        os.environ["TUNESTREAM_ENV_FILE"] = str(env_file)
    _save_instead_of_show(figures)
    os.chdir(notebook.parent)
    sys.path.insert(0, str(notebook.parent))
    runpy.run_path(str(notebook), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
