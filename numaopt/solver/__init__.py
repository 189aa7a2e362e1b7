"""The search: the only package that imports OR-Tools."""
