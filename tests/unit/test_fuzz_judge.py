"""The fuzzer's judge of edits (tests/fuzz/fuzzer.py): stale only if the document held other
text at every point the server may have been at when it wrote the edit."""

from __future__ import annotations

from types import SimpleNamespace

from tests.fuzz.fuzzer import Document, Outcome, check_edit

URI = "file:///w/race.py"
OLD, OTHER = "import os\n", "x = 1\n"


def client_with(states: list[tuple[int, bool, str]], answered_up_to: int, sent: int):
    document = Document(URI, history=list(states))
    from hearth.lsp.workspace import document_key

    return SimpleNamespace(judge_edits=True, outcome=Outcome(1, 0),
                           documents={document_key(URI): document},
                           processed_up_to=answered_up_to, sent=sent)


def judge(client) -> list[str]:
    edit = {"changes": {URI: [{"range": {}, "newText": ""}]}}
    check_edit(client, edit, (URI, 1, OLD), "request 4")
    return client.outcome.stale_edits


def test_an_edit_after_the_server_read_other_text_is_stale():
    # Opened (0), asked (1), reopened with other text (2), a request after it answered (3).
    client = client_with([(0, True, OLD), (2, False, OLD), (2, True, OTHER)], 3, 4)
    assert judge(client) == [f"request 4: an edit for {URI} after the server read that it "
                             "changed"]


def test_an_edit_for_text_the_document_holds_again_is_not():
    # As seed 1, sequence 5026: reopened with other text (2), then again with the old text at
    # the same version (5), which the server may have read before it wrote the edit.
    client = client_with([(0, True, OLD), (2, False, OLD), (2, True, OTHER),
                          (5, False, OTHER), (5, True, OLD)], 3, 6)
    assert judge(client) == [] and client.outcome.edits == 1


def test_a_closed_document_is_stale_whatever_came_before():
    client = client_with([(0, True, OLD), (2, False, OLD)], 3, 4)
    assert judge(client) == [f"request 4: an edit for {URI} after the server read that it "
                             "closed"]
