"""The actions Hearth offers. Adding one means adding a module here and a line below."""

from __future__ import annotations

from hearth.core.pipeline.types import Action


def all_actions() -> list[Action]:
    from hearth.core.actions.explain import ExplainAction
    from hearth.core.actions.fix import FixAction
    from hearth.core.actions.generate import GenerateAction
    from hearth.core.actions.tests import TestsAction

    return [GenerateAction(), FixAction(), ExplainAction(), TestsAction()]


def action_named(name: str) -> Action | None:
    return next((action for action in all_actions() if action.name == name), None)
