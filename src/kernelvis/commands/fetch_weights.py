"""Put a zoo model's checkpoint at a path of your choice (the workflow's resources/weights/...).

The file is taken from the torch hub cache if it is there, else downloaded when the network allows.
Its sha256 is checked against ``--sha256`` or, for torchvision files, the hash prefix in the file
name, before it is renamed into place.

  kernelvis fetch-weights --model r3d_18 --out-file resources/weights/r3d_18/r3d_18-b3b3357e.pth
"""

from __future__ import annotations

import argparse

HELP = "copy or download a zoo model's weights to a path, verifying the hash"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="zoo name (see `kernelvis models`)")
    parser.add_argument("--out-file", required=True, help="destination file")
    parser.add_argument("--sha256", default=None, help="expected sha256 (full or prefix) of the file")


def file_sha256(path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(args) -> int:
    import shutil

    from kernelvis.errors import BadInputError
    from kernelvis.io import atomic_path
    from kernelvis.models.weights import resolve_weights_file, sha256_prefix
    from kernelvis.models.zoo import zoo_entry

    entry = zoo_entry(args.model)
    if not entry.needs_weights:
        raise BadInputError(f"model {args.model!r} needs no weights file")
    source = resolve_weights_file(entry.name, entry.weights_file, entry.weights_url, hint=entry.weights_hint,
                                  check_hash=entry.check_hash)
    expected = (args.sha256 or sha256_prefix(entry.weights_file) or "").lower()
    with atomic_path(args.out_file) as temporary:
        shutil.copyfile(source, temporary)
        actual = file_sha256(temporary)
        if expected and not actual.startswith(expected):
            raise BadInputError(f"{source}: sha256 {actual[:16]}… does not match the expected {expected[:16]}…")
    print(f"{args.out_file}: sha256 {actual}" + (" (verified)" if expected else " (no reference hash known)"))
    return 0
