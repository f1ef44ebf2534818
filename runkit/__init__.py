"""Run infrastructure shared by the trainers of ``neuralgpu`` and ``rltape``; it knows
neither of them."""
