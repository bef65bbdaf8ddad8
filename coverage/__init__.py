"""highfive.coverage."""
