"""highfive.models."""
