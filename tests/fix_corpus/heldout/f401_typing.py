# fix: F401 4
"""Config."""

from typing import Dict, List, Optional


def names(items: List[str]) -> Optional[str]:
    return items[0] if items else None
