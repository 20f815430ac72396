"""The guardrail corpus (loader.py) and the script that picked its benign real code."""
