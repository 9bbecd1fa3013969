"""CLI command families, one module each."""
