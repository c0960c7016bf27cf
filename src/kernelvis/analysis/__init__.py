"""Analyses on top of stages 1 and 2: texture/motion optimization and reliance, direction tuning, faithfulness."""
