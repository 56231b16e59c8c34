"""Hydra configs for retail-sim, installed as the package `retail_sim_configs`."""
