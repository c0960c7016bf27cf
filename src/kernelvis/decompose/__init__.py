"""Stage 2: decomposition of a video into a static texture and per-frame displacements; motion statistics."""
