"""RL-NTM: REINFORCE agents with a memory tape (Zaremba & Sutskever 2015).

Modules: `controller` (the LSTM controller and its heads), `agent` (episode
unroll, rewards, the REINFORCE loss and adapters for `rltape.gradcheck`),
`train` (the jitted, seed-vmapped training program and its driver).
"""
