"""Neural GPU (Kaiser & Sutskever 2015) with the extensions of Price, Zaremba & Sutskever (2016)."""
