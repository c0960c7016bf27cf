"""List the model zoo: name, source, native clip (frames × size), weights file and whether it is
already in the torch hub cache (``$TORCH_HOME/hub/checkpoints``), where a missing file goes.

Any model also runs from a file SPEC ``path/to/file.py:function`` and a ``--weights PATH`` checkpoint.
"""

from __future__ import annotations

HELP = "list the zoo models, their native input and whether their weights are cached"


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned plain-text columns (no dependency, copy-pasteable)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [headers, *rows]]
    return "\n".join(lines)


def _packaged_weights(entry) -> str | None:
    """The path of weights shipped in an installed package, or a note when the package is missing."""
    from kernelvis.errors import KernelvisError

    if entry.packaged_weights is None:
        return None
    try:
        return str(entry.packaged_weights())
    except KernelvisError:
        return None


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args) -> int:
    import json

    from kernelvis.models.weights import checkpoint_dir
    from kernelvis.models.zoo import is_cached, list_models, zoo_entry

    records = []
    for name in list_models():
        entry = zoo_entry(name)
        p = entry.preprocessing
        records.append({"name": name, "source": entry.source, "frames": p.frames, "size": p.size, "height": p.frame_height, "width": p.frame_width,
                        "value_range": f"0-{p.value_scale:g}", "channel_order": p.channel_order,
                        "weights_file": entry.weights_file or _packaged_weights(entry),
                        "weights_in_package": entry.packaged_weights is not None,
                        "weights_url": entry.weights_url,
                        "cached": is_cached(entry) if entry.needs_weights else None,
                        "description": entry.description})
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    rows = [[r["name"], r["source"], f"{r['frames']}x{r['height']}x{r['width']}",
             ("(in its pip package)" if r["weights_in_package"] else r["weights_file"]) or "-",
             "-" if r["cached"] is None else ("yes" if r["cached"] else "no"), r["description"]] for r in records]
    print(format_table(["name", "source", "frames x size", "weights file", "cached", "description"], rows))
    print(f"\nweights cache: {checkpoint_dir()}  (or pass --weights PATH; file SPECs: path/to/file.py:function)")
    return 0
