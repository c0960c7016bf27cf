"""Layer names on figure axes: broken at their dots, never altered."""

from kernelvis.render.layer_labels import TICK_WIDTH, row_label


def test_long_module_paths_break_at_dots_and_short_names_stay_whole():
    name = "SDDCNN.2.DDCNN.1.Conv3D_4.layers.1"
    assert row_label(name, TICK_WIDTH) == "SDDCNN.2.\nDDCNN.1.\nConv3D_4.\nlayers.1"
    assert row_label(name, TICK_WIDTH).replace("\n", "") == name
    assert row_label(name) == "SDDCNN.2.DDCNN.1.\nConv3D_4.layers.1"
    assert row_label("conv3", TICK_WIDTH) == "conv3"
    assert row_label("encoder.res_stack.3.block.5.conv", 12).replace("\n", "") == "encoder.res_stack.3.block.5.conv"
