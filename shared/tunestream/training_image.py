"""`TrainingImage` values: a container image, or `file:///abs/path` for a local executable.

botocore validates requests on the client, so a boto3 user cannot send tunestream's
`AlgorithmSpecification.Command`; `TrainingImage: "file:///opt/train/run.sh"` says "run this
executable as a local process" (the process backend) instead of "run this image in a container".
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

FILE_SCHEME = "file"


def is_file_uri(image: str | None) -> bool:
    """True for anything in the file: scheme, valid or not (validation reports what is wrong)."""
    return bool(image) and urlsplit(image or "").scheme.lower() == FILE_SCHEME


def file_uri_problem(image: str) -> str | None:
    """Why a file: TrainingImage is not usable, or None when it names an absolute path."""
    parts = urlsplit(image)
    if not image.lower().startswith("file://"):
        return f"{image!r}: a local executable is written file:///absolute/path"
    if parts.netloc not in ("", "localhost"):
        return f"{image!r}: a file URI names a path on the launcher's host, not on {parts.netloc!r}"
    if parts.query or parts.fragment:
        return f"{image!r}: a file URI takes no query or fragment"
    path = unquote(parts.path)
    if not path.startswith("/") or path == "/":
        return f"{image!r}: the executable must be an absolute path (file:///path/to/program)"
    if "\0" in path:
        return f"{image!r}: the path contains a NUL character"
    return None


def local_executable(image: str | None) -> str | None:
    """The absolute path a valid file:// TrainingImage names; None for a container image."""
    if image is None or not is_file_uri(image) or file_uri_problem(image) is not None:
        return None
    return unquote(urlsplit(image).path)
