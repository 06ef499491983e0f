"""SageMaker's framework containers in script mode, which tunestream stands in for.

The sagemaker SDK's framework estimators (`sagemaker.pytorch.PyTorch`, TensorFlow, SKLearn, MXNet,
HuggingFace) name an AWS Deep Learning Container by its ECR image and ship the user's code: they
upload `source_dir` (or the entry point alone) as `sourcedir.tar.gz` and add JSON-encoded
hyperparameters for the container's training toolkit: `sagemaker_program` (the entry point) and
`sagemaker_submit_directory` (the tarball's S3 URI), besides `sagemaker_region`,
`sagemaker_container_log_level` and `sagemaker_job_name`. The toolkit then unpacks the code into
/opt/ml/code and runs `python <entry point> --name value ...` with the user's hyperparameters.

tunestream cannot pull those images, so a launcher does the toolkit's part as a local process on its
own Python (which must hold the framework the script imports): it unpacks the tarball into the job
folder's code/ and runs the entry point there, with the toolkit's arguments and SM_* variables.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tunestream.events.v1 import ScriptSpec

# The training images of the Deep Learning Containers whose toolkit runs a script, in every region
# and partition (`sagemaker.image_uris.retrieve("pytorch", region, "2.4.0", ...)` and its peers).
_FRAMEWORK_IMAGE = re.compile(
    r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>pytorch-training|tensorflow-training|mxnet-training|huggingface-pytorch-training|"
    r"huggingface-tensorflow-training|sagemaker-scikit-learn|sagemaker-chainer)(-[a-z0-9]+)?:[A-Za-z0-9._-]+$"
)
PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
# The toolkit's own hyperparameters start with this; they are not passed to the script.
TOOLKIT_PREFIX = "sagemaker_"
# The module a launcher runs for a script, and where it tells it the code was unpacked.
SCRIPT_RUNNER = "tunestream.algorithms.script_mode"
SCRIPT_CODE_DIR_ENV = "TUNESTREAM_CODE_DIR"


def framework_of(training_image: str | None) -> str | None:
    """The Deep Learning Container repository a TrainingImage names (pytorch-training, ...), if any."""
    found = _FRAMEWORK_IMAGE.match(training_image or "")
    return found.group("repository") if found else None


def decoded(value: str) -> Any:
    """A hyperparameter as the toolkit reads it: JSON when it parses (the SDK's framework estimators
    JSON-encode every value), else the text itself (a value tuned by the service is plain text)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def toolkit_value(value: str) -> str:
    """A decoded hyperparameter as the script receives it on its command line."""
    found = decoded(value)
    if isinstance(found, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(found.items()))
    return found if isinstance(found, str) else str(found)


def script_arguments(hyperparameters: dict[str, str]) -> list[str]:
    """`--name value` for every hyperparameter but the toolkit's own, sorted by name as the toolkit
    sorts them, each value one argv item."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        if not name.startswith(TOOLKIT_PREFIX):
            args += [f"--{name}", toolkit_value(hyperparameters[name])]
    return args


def user_hyperparameters(hyperparameters: dict[str, str]) -> dict[str, Any]:
    """SM_HPS as the toolkit writes it: the script's hyperparameters, decoded."""
    return {k: decoded(v) for k, v in hyperparameters.items() if not k.startswith(TOOLKIT_PREFIX)}


def script_spec(training_image: str | None, hyperparameters: dict[str, str]) -> ScriptSpec | None:
    """The script a training job runs in a framework container; None if it runs none (another
    image, or a framework image without a script: a ContainerEntrypoint of its own, which the
    container backend runs as given)."""
    framework = framework_of(training_image)
    if framework is None or PROGRAM not in hyperparameters or SUBMIT_DIRECTORY not in hyperparameters:
        return None
    program, directory = decoded(hyperparameters[PROGRAM]), decoded(hyperparameters[SUBMIT_DIRECTORY])
    if not isinstance(program, str) or not isinstance(directory, str):
        return None
    return ScriptSpec(framework=framework, program=program, submit_directory=directory)
