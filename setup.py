"""Neural networks that learn algorithms: Neural GPU and RL on tapes, in JAX."""

from setuptools import find_packages, setup

setup(
    name="algolearn",
    version="0.1.0",
    description=(
        "Neural GPU (Kaiser & Sutskever 2015; Price et al. 2016) and "
        "RL agents on tapes (Zaremba et al. 2016), in JAX."
    ),
    packages=find_packages(
        include=[
            "neuralgpu",
            "neuralgpu.*",
            "rltape",
            "rltape.*",
            "runkit",
            "runkit.*",
            "plotkit",
            "plotkit.*",
        ]
    ),
    python_requires=">=3.10",
    install_requires=[
        "jax>=0.4.35",
        "flax>=0.10.0",
        "optax>=0.2.4",
        "chex>=0.1.88",
        "absl-py>=2.1.0",
        "ml-collections>=0.1.1",
        "orbax-checkpoint>=0.11.0",
        "rlax>=0.1.6",
        "tqdm>=4.66",
        "tensorboardX>=2.6",
        "numpy>=1.26",
        "matplotlib>=3.8",
    ],
    extras_require={
        # nbclient, nbformat and ipykernel run the notebooks/ in tests/notebooks.
        "test": [
            "pytest>=8.0",
            "hypothesis>=6.100",
            "pytest-xdist>=3.5",
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
            "matplotlib>=3.8",
            # The code style (pyproject.toml), checked by tests/test_style.py.
            "pyink>=24.3",
        ],
        # The PyTorch side of `python -m benchmarks`. On a CPU machine install the CPU
        # build first (`pip install torch==2.13.0` where that file is at hand, or PyTorch's
        # CPU index): a plain `torch` from PyPI brings several GB of CUDA libraries.
        "bench": ["torch>=2.13"],
    },
)
