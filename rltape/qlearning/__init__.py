"""Q-learning agents of "Learning Simple Algorithms from Examples" (Zaremba et al. 2016)."""
