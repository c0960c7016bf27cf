"""The classic methods in 3D: DeconvNet and dataset examples, inversion, dissection, suppression, 3TConv."""
