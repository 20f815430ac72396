"""A model the Session unloaded after `model.unloadAfter` is loaded again at the next use and
answers, more than once (the real default model, llama.cpp's Llama freed and made again)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hearth.core.session import Session
from hearth.core.text import Pos
from hearth.settings import GenerationSettings, ModelSettings, Settings
from tests.e2e.conftest import require_default_model

pytestmark = pytest.mark.model

SOURCE = '''def add_tax(price: float, rate: float) -> float:
    """Return the price with the tax rate added."""
    return price * (1 + rate)
'''


def test_an_unloaded_model_is_loaded_again_and_answers(tmp_path: Path) -> None:
    require_default_model()
    settings = Settings(model=ModelSettings(unload_after=1),
                        generation=GenerationSettings(max_tokens=48))
    session = Session(settings, tmp_path)
    path = tmp_path / "shop.py"
    path.write_text(SOURCE, encoding="utf-8")
    request = session.request(SOURCE, Pos(0, 6), path=path)
    backend = session.backend("explain")
    try:
        for _ in range(3):
            result = session.run("explain", request, use_context=False, use_cache=False)
            assert result.method == "model" and result.model == session.model_for("explain").name
            assert result.tokens > 0 and result.markdown
            assert backend.loaded
            # One second and a half later, by the session's own clock: past unloadAfter.
            assert session.unload_idle(time.monotonic() + 1.5) is None
            assert not backend.loaded
        assert session.backend("explain") is backend  # one backend, its model freed and reloaded
    finally:
        session.close()
