"""How one batched sequence turns token bytes into text and decides it is finished (no model)."""

from __future__ import annotations

from hearth.core.models.llama_batch import TextTail, lookup_draft


def feed(tail: TextTail, pieces: list[bytes]) -> list[str]:
    """Push pieces until the tail finishes; return what would have been streamed, per token."""
    streamed = []
    for piece in pieces:
        tail.push(piece)
        streamed.append(tail.unstreamed())
        if tail.finish:
            break
    return streamed


def test_a_character_split_across_tokens_comes_out_whole():
    crab = "🦀".encode()
    cjk = "你".encode()
    tail = TextTail(stops=(), stop_when=None, max_tokens=10)
    streamed = feed(tail, [b"x = '", crab[:1], crab[1:3], crab[3:] + cjk[:2], cjk[2:], b"'"])
    assert tail.text == "x = '🦀你'"
    assert streamed == ["x = '", "", "", "🦀", "你", "'"]
    assert "\ufffd" not in tail.text
    assert tail.tokens == 6 and tail.finish is None


def test_a_character_cut_by_max_tokens_is_dropped_not_mangled():
    tail = TextTail(stops=(), stop_when=None, max_tokens=2)
    feed(tail, [b"ok ", "é".encode()[:1]])
    assert tail.finish == "length"
    assert tail.text == "ok "


def test_invalid_bytes_become_the_replacement_character():
    tail = TextTail(stops=(), stop_when=None, max_tokens=5)
    feed(tail, [b"a\xffb"])
    assert tail.text == "a\ufffdb"


def test_a_stop_string_spanning_tokens_ends_the_text_before_it():
    tail = TextTail(stops=("<|im_end|>", "\n\n\n"), stop_when=None, max_tokens=50)
    streamed = feed(tail, [b"return 1", b"<|im", b"_e", b"nd|>", b"never"])
    assert tail.finish == "stop"
    assert tail.text == "return 1"
    # The possible start of a stop string is held back until it is known not to be one.
    assert streamed == ["return 1", "", "", ""]
    assert tail.tokens == 4


def test_held_back_text_is_released_when_it_is_not_a_stop():
    tail = TextTail(stops=("<|im_end|>",), stop_when=None, max_tokens=50)
    streamed = feed(tail, [b"a <", b"|im", b"x"])
    assert streamed == ["a ", "", "<|imx"]
    assert tail.finish is None


def test_the_earliest_of_several_stops_wins():
    tail = TextTail(stops=("END", "\n"), stop_when=None, max_tokens=50)
    feed(tail, [b"one\ntwo END"])
    assert tail.text == "one"


def test_stop_when_sees_the_text_so_far_and_keeps_it():
    seen = []

    def body_over(text: str) -> bool:
        seen.append(text)
        return "\ndef " in text

    tail = TextTail(stops=(), stop_when=body_over, max_tokens=50)
    feed(tail, [b"    return x\n", b"def ", b"other"])
    assert tail.finish == "stop_when"
    assert tail.text == "    return x\ndef "
    assert seen == ["    return x\n", "    return x\ndef "]


def test_stop_when_is_not_asked_about_an_unfinished_character():
    calls = []
    tail = TextTail(stops=(), stop_when=lambda text: calls.append(text) or False, max_tokens=9)
    feed(tail, ["é".encode()[:1], "é".encode()[1:]])
    assert calls == ["é"]


def test_max_tokens_counts_tokens_not_characters():
    tail = TextTail(stops=(), stop_when=None, max_tokens=3)
    streamed = feed(tail, [b"abc", b"def", b"ghi", b"jkl"])
    assert tail.finish == "length"
    assert tail.text == "abcdefghi"
    assert streamed == ["abc", "def", "ghi"]


def test_a_stop_found_on_the_last_allowed_token_is_reported_as_a_stop():
    tail = TextTail(stops=("```",), stop_when=None, max_tokens=2)
    feed(tail, [b"x = 1\n", b"```"])
    assert tail.finish == "stop"
    assert tail.text == "x = 1\n"


def test_prompt_lookup_drafts_what_followed_the_latest_match_of_the_longest_ngram():
    #           0  1  2  3  4  5  6  7  8  9
    history = [7, 1, 2, 3, 9, 1, 2, 3, 4, 5, 1, 2, 3]
    # "1 2 3" ends the history; its latest earlier occurrence (at 5) was followed by 4 5 1.
    assert lookup_draft(history, 3) == [4, 5, 1]
    assert lookup_draft(history, 10) == [4, 5, 1, 2, 3]  # up to the end, not past it


def test_prompt_lookup_falls_back_to_shorter_ngrams_but_not_to_single_tokens():
    assert lookup_draft([5, 6, 8, 1, 6, 8], 2) == [1, 6]  # "6 8" matched, "1 6 8" did not
    assert lookup_draft([5, 6, 7, 8, 6], 4) == []  # one token is too weak a match to draft on
    assert lookup_draft([1, 2, 3], 4) == []
    assert lookup_draft([], 4) == [] and lookup_draft([1], 4) == []
