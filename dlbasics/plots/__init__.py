"""Plots: functions take data and return a matplotlib ``Figure``; nothing calls ``plt.show()``."""

from .curves import plot_curves

__all__ = ["plot_curves"]
