"""Data: Kinetics and video-folder clip sampling, clip statistics, synthetic stimuli with ground truth,
and the demo model's synthetic training task."""
