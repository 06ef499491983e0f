"""What a finished attempt leaves in S3 at SageMaker's keys: the model (model.tar.gz, or its files
with CompressionType NONE) and whatever the program wrote to output/data (output.tar.gz)."""

from __future__ import annotations

import tarfile
from pathlib import Path

from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.layout import JobLayout
from tunestream.objstore.base import ObjectStore, join_s3_uri


def model_artifact_uri(spec: TrainingJobSpec) -> str:
    """SageMaker's key: <S3OutputPath>/<training job>/output/model.tar.gz, or with CompressionType NONE
    the prefix <...>/output/model/ under which the model's files lie as they are."""
    if spec.output_compression == "NONE":
        return join_s3_uri(spec.output_s3_path, spec.training_job_name, "output", "model") + "/"
    return join_s3_uri(spec.output_s3_path, spec.training_job_name, "output", "model.tar.gz")


def output_data_uri(spec: TrainingJobSpec) -> str:
    """Where /opt/ml/output/data goes: <...>/output/output.tar.gz, or with NONE the prefix <...>/output/data/."""
    if spec.output_compression == "NONE":
        return join_s3_uri(spec.output_s3_path, spec.training_job_name, "output", "data") + "/"
    return join_s3_uri(spec.output_s3_path, spec.training_job_name, "output", "output.tar.gz")


def tar_folder(folder: Path, target: Path) -> None:
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)


def upload_model(store: ObjectStore, spec: TrainingJobSpec, layout: JobLayout) -> str:
    """The model, and what the program left in output/data (only when it left something); returns
    the model's S3 URI."""
    uri = model_artifact_uri(spec)
    _upload_folder(store, layout, layout.model_dir, uri, always=True)
    _upload_folder(store, layout, layout.output_data_dir, output_data_uri(spec), always=False)
    return uri


def _upload_folder(store: ObjectStore, layout: JobLayout, folder: Path, uri: str, *, always: bool) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if not files and not always:
        return
    if uri.endswith("/"):  # CompressionType NONE: each file under the prefix
        for path in files:
            store.put_file(uri + path.relative_to(folder).as_posix(), path)
        return
    target = layout.root / uri.rsplit("/", 1)[-1]
    tar_folder(folder, target)
    store.put_file(uri, target, content_type="application/gzip")
