"""Motion rendering: hue = direction in the README's angle convention, brightness = speed, legend, arrows."""

import numpy as np
import pytest
from matplotlib.colors import rgb_to_hsv

from kernelvis.geometry import unit_velocity
from kernelvis.render.arrows import draw_motion_arrows, write_arrows_png
from kernelvis.render.motion import MIN_SCALE_PX_PER_FRAME, color_wheel, robust_speed_scale, velocity_to_rgb


@pytest.mark.parametrize("direction_deg", [0, 45, 90, 180, 270, 330])
def test_hue_is_direction_and_value_is_speed(direction_deg):
    velocity = np.array(unit_velocity(direction_deg)) * 1.5
    hsv = rgb_to_hsv(velocity_to_rgb(velocity[None], scale_px_per_frame=3.0))[0]
    assert hsv[0] * 360 == pytest.approx(direction_deg % 360, abs=1.0) or (direction_deg == 0 and hsv[0] > 0.997)
    assert hsv[2] == pytest.approx(0.5, abs=0.01)


def test_known_colours_and_clipping():
    velocity = np.array([[2.0, 0.0], [0.0, -2.0], [-2.0, 0.0], [50.0, 0.0], [0.0, 0.0]])
    rgb = velocity_to_rgb(velocity, scale_px_per_frame=2.0)
    np.testing.assert_allclose(rgb[0], [1, 0, 0], atol=1e-6)            # right: red
    assert rgb[1][1] > 0.9 and rgb[1][2] < 0.05                          # up (y negative): yellow-green
    np.testing.assert_allclose(rgb[2], [0, 1, 1], atol=1e-6)            # left: cyan
    np.testing.assert_allclose(rgb[3], [1, 0, 0], atol=1e-6)            # too fast: clipped, never wraps
    np.testing.assert_allclose(rgb[4], [0, 0, 0], atol=1e-6)            # still: black


def test_robust_scale_ignores_outliers_and_the_black_first_frame():
    velocity = np.zeros((3, 20, 20, 2))
    velocity[1:, ..., 0] = 1.0
    velocity[1, 0, 0, 0] = 100.0  # one wild pixel
    assert robust_speed_scale(velocity) == pytest.approx(1.0)
    assert robust_speed_scale(np.zeros((2, 4, 4, 2))) == MIN_SCALE_PX_PER_FRAME
    shared = velocity_to_rgb(velocity, scale_px_per_frame=4.0)
    assert shared[1, 5, 5].max() == pytest.approx(0.25, abs=0.01)


def test_colour_wheel_matches_the_velocity_colours():
    wheel = color_wheel(65)
    np.testing.assert_allclose(wheel[32, 64], velocity_to_rgb(np.array([1.0, 0.0]), 1.0), atol=1e-6)  # right rim
    np.testing.assert_allclose(wheel[0, 32], velocity_to_rgb(np.array([0.0, -1.0]), 1.0), atol=1e-6)  # top = up
    assert wheel[0, 0].sum() == 0 and wheel[32, 32].sum() == 0  # outside the disc; centre = no motion


def test_arrows_point_where_the_content_moves(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    velocity = np.zeros((32, 32, 2))
    velocity[..., 0], velocity[..., 1] = 1.0, -1.0  # right and up on screen
    figure, axes = plt.subplots()
    axes.imshow(np.zeros((32, 32, 3)))
    draw_motion_arrows(axes, velocity)
    quiver = axes.collections[0]
    assert np.all(quiver.U > 0) and np.all(quiver.V < 0)  # data coordinates, y down as imshow shows them
    plt.close(figure)
    write_arrows_png(tmp_path / "arrows.png", np.full((32, 32, 3), 0.5), np.stack([velocity] * 3))
    assert (tmp_path / "arrows.png").stat().st_size > 0
