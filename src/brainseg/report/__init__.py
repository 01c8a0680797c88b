"""Figures and the self-contained HTML report (matplotlib, Agg backend)."""
