"""Renderers: pure functions from a Plan to text or argument lists."""
