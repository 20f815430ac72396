"""A tiny stock-keeping module for Hearth's demo."""
