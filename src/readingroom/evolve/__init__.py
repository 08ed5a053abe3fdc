"""AlphaEvolve (Novikov et al., 2025): an evolutionary coding agent."""
