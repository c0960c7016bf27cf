"""Layer names on figures: long module paths (``SDDCNN.2.DDCNN.1.Conv3D_4.layers.1``) broken at their dots."""

from __future__ import annotations


def row_label(layer: str, width: int = 18) -> str:
    """A layer name broken at its dots into lines of at most ~``width`` characters, so long module paths
    (``SDDCNN.2.DDCNN.1.Conv3D_4.layers.1``) stay beside their own row."""
    lines, current = [], ""
    for part in layer.split("."):
        candidate = f"{current}.{part}" if current else part
        if current and len(candidate) > width:
            lines.append(current + ".")
            current = part
        else:
            current = candidate
    return "\n".join(lines + [current])


TICK_WIDTH = 9
"""Characters per line of a layer name under a depth axis."""


def layer_ticks(axes, layers: list[str]) -> None:
    """Layers along the x axis, shallow to deep, each name broken at its dots (:func:`row_label`) so that long module
    paths stay under their own tick instead of squeezing the plot."""
    axes.set_xticks(range(len(layers)))
    axes.set_xticklabels([row_label(layer, TICK_WIDTH) for layer in layers], fontsize=7)
    axes.set_xlabel("layer (shallow → deep)")
