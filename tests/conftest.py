"""Shared pytest setup: small CPU-only JAX, float32, deterministic."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
