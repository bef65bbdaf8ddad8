"""highfive.reports."""
