"""highfive.harness."""
