"""Training: a run's settings, its state and directory, the loop, stacked and parallel runs, saved models."""
