"""How many GPUs a training job asks for, from SageMaker's ResourceConfig.

SageMaker picks GPUs through the instance type; tunestream's launchers hand out GPUs of their own
hosts, so an instance type is read as "this many GPUs". `ResourceConfig.GpuCount` (a tunestream
extension) says it directly and wins over the type.
"""

from __future__ import annotations

import re

from tunestream.definitions import ResourceConfigShape

# GPUs per instance of SageMaker's GPU families; sizes not listed have one GPU.
_MULTI_GPU_SIZES = {
    "p2": {"8xlarge": 8, "16xlarge": 16},
    "p3": {"8xlarge": 4, "16xlarge": 8},
    "p3dn": {"24xlarge": 8},
    "p4d": {"24xlarge": 8},
    "p4de": {"24xlarge": 8},
    "p5": {"48xlarge": 8},
    "p5e": {"48xlarge": 8},
    "p5en": {"48xlarge": 8},
    "g4dn": {"12xlarge": 4},
    "g5": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6e": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
}
_GPU_FAMILY = re.compile(r"^ml\.(p\d+[a-z]*|g\d+[a-z]*)\.([0-9]*x?large)$")


def gpus_per_instance(instance_type: str | None) -> int:
    """0 for CPU types, "local", or anything unknown; the GPU count for ml.p*/ml.g* types."""
    if not instance_type:
        return 0
    match = _GPU_FAMILY.match(instance_type)
    if match is None:
        return 0
    family, size = match.groups()
    return _MULTI_GPU_SIZES.get(family, {}).get(size, 1)


def gpu_count(resource_config: ResourceConfigShape) -> int:
    if resource_config.GpuCount is not None:
        return resource_config.GpuCount
    return gpus_per_instance(resource_config.InstanceType)
