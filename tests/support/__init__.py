"""Helpers shared by tests (not tests themselves): golden files, brute force, the shipped problems."""
