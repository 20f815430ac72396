"""Vulnerable snippets and hand-judged findings on real code, for the security rules."""
