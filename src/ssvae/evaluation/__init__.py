"""Evaluation: estimates on a model (metrics), a finished run's test numbers, figures, scikit-learn baselines."""
