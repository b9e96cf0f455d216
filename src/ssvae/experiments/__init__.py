"""Experiments: grids of runs as data, the engines that train them, the paper's reproduction and its report."""
