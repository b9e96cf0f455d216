"""The math: models (each says how to compute its bound's pieces), layers, likelihoods, and the objective."""
