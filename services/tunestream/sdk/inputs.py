"""Training input channels, as `sagemaker.inputs.TrainingInput`, and `fit(inputs)` -> InputDataConfig."""

from __future__ import annotations

import re
from typing import Any

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9\.\-_]+$")
DEFAULT_CHANNEL = "training"


class TrainingInput:
    """An S3 prefix (or manifest) delivered to the training program as a channel folder."""

    def __init__(
        self,
        s3_data: str,
        distribution: str | None = None,
        compression: str | None = None,
        content_type: str | None = None,
        record_wrapping: str | None = None,
        s3_data_type: str = "S3Prefix",
        instance_groups: list[str] | None = None,
        input_mode: str | None = None,
        attribute_names: list[str] | None = None,
        target_attribute_name: str | None = None,
        shuffle_config: Any = None,
        hub_access_config: Any = None,
        model_access_config: Any = None,
    ) -> None:
        _check_uri(s3_data)
        source: dict[str, Any] = {"S3DataType": s3_data_type, "S3Uri": s3_data}
        source["S3DataDistributionType"] = distribution or "FullyReplicated"
        if attribute_names:
            source["AttributeNames"] = list(attribute_names)
        self.config: dict[str, Any] = {"DataSource": {"S3DataSource": source}}
        if compression is not None:
            self.config["CompressionType"] = compression
        if content_type is not None:
            self.config["ContentType"] = content_type
        if record_wrapping is not None:
            self.config["RecordWrapperType"] = record_wrapping
        if input_mode is not None:
            self.config["InputMode"] = input_mode

    def __repr__(self) -> str:
        return f"TrainingInput({self.config['DataSource']['S3DataSource']['S3Uri']!r})"


def _check_uri(uri: Any) -> None:
    if not isinstance(uri, str) or not uri.startswith("s3://") or len(uri) <= len("s3://"):
        hint = ""
        if isinstance(uri, str) and (uri.startswith("file://") or not uri.startswith("s3://")):
            hint = "; launchers download channels from S3: upload local files first with Session().upload_data(path)"
        raise ValueError(f"training input must be an s3:// URI, got {uri!r}{hint}")


def input_data_config(inputs: Any) -> list[dict[str, Any]]:
    """`fit(inputs)` -> InputDataConfig: None, an S3 URI or TrainingInput (the 'training' channel), or a
    dict of channel name -> S3 URI / TrainingInput."""
    if inputs is None:
        return []
    if isinstance(inputs, str | TrainingInput):
        inputs = {DEFAULT_CHANNEL: inputs}
    if not isinstance(inputs, dict):
        raise TypeError(
            f"inputs must be an s3:// URI, a TrainingInput or a dict of channel -> URI, got {type(inputs).__name__}"
        )
    channels = []
    for name, value in inputs.items():
        if not isinstance(name, str) or not _CHANNEL_NAME.match(name) or len(name) > 64:
            raise ValueError(f"channel name {name!r}: 1-64 characters of letters, digits, '.', '-', '_'")
        channel = value if isinstance(value, TrainingInput) else TrainingInput(value)
        channels.append({"ChannelName": name, **channel.config})
    return channels
