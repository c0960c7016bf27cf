"""The depth grid wraps whole layers: at most max_columns kernels a figure row, a layer with more continues on the
rows below it, layers and kernels in their order, each layer labelled once, the colour wheel once."""

import json
from collections import OrderedDict

import numpy as np
import pytest

from kernelvis.render.figures import MAX_COLUMNS, depth_grid, grid_rows
from kernelvis.render.layer_labels import row_label
from kernelvis.render.savefig import plt

LAYERS = (("conv1", 2), ("conv2", 20), ("SDDCNN.2.DDCNN.1.Conv3D_4.layers.1", 5))


def _cell(kernel: int, **facts) -> dict:
    rng = np.random.default_rng(kernel)
    return {"kernel": kernel, "static": rng.random((8, 8, 3)), "velocity": rng.normal(size=(3, 8, 8, 2)),
            "speed_px_per_frame": 0.5, **facts}


def _cells() -> "OrderedDict[str, list[dict]]":
    return OrderedDict((layer, [_cell(kernel) for kernel in range(count)]) for layer, count in LAYERS)


def _image_rows(figure) -> dict[int, list]:
    """Figure row -> its kernel cells' image axes, left to right (the colour wheel left out)."""
    rows: dict[int, list] = {}
    for axes in figure.axes:
        if axes.images and axes.get_title() != "direction":
            rows.setdefault(axes.get_subplotspec().rowspan.start, []).append(axes)
    return {row: sorted(cells, key=lambda axes: axes.get_subplotspec().colspan.start)
            for row, cells in sorted(rows.items())}


def _layer_labels(figure) -> list[str]:
    return [text.get_text() for axes in figure.axes for text in axes.texts]


def test_grid_rows_wrap_each_layer_in_order():
    rows = grid_rows(_cells(), 8)
    assert [(layer, [cell["kernel"] for cell in kernels]) for layer, kernels in rows] == [
        ("conv1", [0, 1]), ("conv2", list(range(8))), ("conv2", list(range(8, 16))), ("conv2", list(range(16, 20))),
        ("SDDCNN.2.DDCNN.1.Conv3D_4.layers.1", [0, 1, 2, 3, 4])]
    assert len(grid_rows(_cells(), 1)) == 27 and len(grid_rows(_cells(), 100)) == 3
    with pytest.raises(ValueError, match="max_columns"):
        grid_rows(_cells(), 0)


def test_wrapped_grid_rows_captions_labels_and_size():
    figure = depth_grid(_cells(), "demo", max_columns=8)
    try:
        rows = _image_rows(figure)
        assert len(rows) == 1 + 3 + 1
        assert [len(cells) // 2 for cells in rows.values()] == [2, 8, 8, 4, 5]  # a static and a motion image each
        captions = [axes.get_title(loc="left") for cells in rows.values() for axes in cells[::2]]
        assert captions == [f"k{kernel}  0.50px/f" for _, count in LAYERS for kernel in range(count)]
        labels = _layer_labels(figure)
        assert sorted(labels) == sorted(row_label(layer) for layer, _ in LAYERS)  # each layer once
        assert sum(1 for axes in figure.axes if axes.get_title() == "direction") == 1
        # the figure is as wide as 8 kernels and as tall as 5 rows, not 20 kernels wide and 3 rows tall
        width, height = figure.get_size_inches()
        assert width == pytest.approx(2.6 * 8 + 1.0) and height == pytest.approx(1.5 * 5 + 0.7)
        # the label of a layer on three rows sits beside the middle one, shallow to deep from the top
        heights = {text.get_text(): text.get_position()[1] for axes in figure.axes for text in axes.texts}
        middle = rows[2][0].get_position()
        assert heights[row_label("conv2")] == pytest.approx((middle.y0 + middle.y1) / 2)
        assert heights[row_label("conv1")] > heights[row_label("conv2")] > heights[row_label(LAYERS[2][0])]
    finally:
        plt.close(figure)


def test_narrow_layers_are_one_row_each_and_cells_keep_their_badges():
    cells = OrderedDict([("conv1", [_cell(0), _cell(1, audit_pass=False)]), ("conv2", [_cell(0, status="silent")])])
    figure = depth_grid(cells)
    try:
        rows = _image_rows(figure)
        assert [len(cells) // 2 for cells in rows.values()] == [2, 1]
        assert figure.get_size_inches()[0] == pytest.approx(2.6 * 2 + 1.0)  # as many columns as the widest layer
        static, motion = rows[0][2], rows[0][3]
        assert static.get_title(loc="left") == "k1  0.50px/f [audit fail]"
        assert all(axes.axison and axes.spines["left"].get_edgecolor()[:3] == (1.0, 0.0, 0.0)
                   for axes in (static, motion))
        assert not rows[0][0].axison  # an ok kernel: no frame
        assert rows[1][0].get_title(loc="left").endswith("[silent]")
        assert sorted(_layer_labels(figure)) == ["conv1", "conv2"]
    finally:
        plt.close(figure)


def test_command_wraps_at_max_columns(tmp_path, capsys):
    from kernelvis.cli import build_parser, main

    summaries = []
    for layer, count in (("conv1", 2), ("conv2", 5)):
        for kernel in range(count):
            kernel_dir = tmp_path / layer / f"kernel_{kernel:04d}"
            kernel_dir.mkdir(parents=True)
            cell = _cell(kernel)
            np.savez(kernel_dir / "decomposition.npz", static=cell["static"], velocity=cell["velocity"])
            (kernel_dir / "summary.json").write_text(json.dumps({"kernel": kernel, "layer": layer}))
            summaries.append(str(kernel_dir / "summary.json"))
    out = tmp_path / "depth_grid.png"
    assert main(["figures", "depth-grid", *summaries, "--out-file", str(out), "--max-columns", "3"]) == 0
    assert out.is_file() and out.with_suffix(".pdf").is_file()
    assert main(["figures", "depth-grid", *summaries, "--out-file", str(tmp_path / "bad.png"),
                 "--max-columns", "0"]) == 1
    assert "--max-columns" in capsys.readouterr().err and not (tmp_path / "bad.png").exists()
    args = build_parser().parse_args(["figures", "depth-grid", "s.json", "--out-file", "x.png"])
    assert args.max_columns == MAX_COLUMNS  # the command's default is the library's
