"""Run one step of an action the way the engine does: the target resolved first."""

from __future__ import annotations


def prompt_of(action, request, context, max_tokens):
    return action.prompt(request, action.resolve(request), context, max_tokens)


def candidate_of(action, request, completion):
    return action.candidate(request, action.resolve(request), completion)
