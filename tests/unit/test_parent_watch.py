"""The processId a client sends is watched only when it can be a process id."""

from __future__ import annotations

import pytest

from hearth.lsp.lifecycle import MAX_PID, watch


@pytest.mark.parametrize("pid", [None, 0, -1, True, "1234", 1.5, 2**63, MAX_PID + 1])
def test_values_that_are_no_process_id_are_not_watched(pid) -> None:
    ended: list[bool] = []
    assert watch(pid, lambda: ended.append(True)) is None
    assert ended == []
