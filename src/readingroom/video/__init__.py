"""Sora, at toy scale: video generation as diffusion over spacetime patches.

(Public names are collected here once the modules land.)
"""
