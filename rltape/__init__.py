"""Reinforcement learning on tapes and grids: environments and agents (Zaremba et al. 2016)."""
