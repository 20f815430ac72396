"""The pipeline as the settings ask for it: the shared checks, the execution ranker and the
engine's options, assembled in one place for the Session (and the benchmarks)."""

from __future__ import annotations

from pathlib import Path

from hearth.core.analysis.context import AnalysisContext
from hearth.core.guardrails import AuditLog
from hearth.core.pipeline.engine import EngineOptions
from hearth.core.pipeline.rank import default_ranker
from hearth.core.pipeline.conventions import HelperCheck
from hearth.core.pipeline.types import Action, ActionRequest, Candidate, Validator
from hearth.core.pipeline.jedi_checks import ArityCheck, AttributeCheck, ImportCheck
from hearth.core.pipeline.validate import Flake8Check, PlaceholderCheck, TrivialBodyCheck
from hearth.core.text import Pos
from hearth.settings import Settings


def default_validators(workspace: Path | None) -> tuple[Validator, ...]:
    """The shared checks, cheapest first, for a workspace (None: a loose file)."""
    return (Flake8Check(workspace), PlaceholderCheck(), TrivialBodyCheck(),
            ImportCheck(workspace), AttributeCheck(workspace), ArityCheck(workspace),
            HelperCheck())


def engine_options(settings: Settings, audit: AuditLog | None = None,
                   workspace: Path | None = None, action: Action | None = None,
                   ) -> EngineOptions:
    """Everything the settings ask for, with the shared checks and the execution ranker;
    ``generation.samples`` unset, the number measured for ``action`` (5 for none)."""
    generation = settings.generation
    samples = generation.samples or (action.default_samples if action is not None else 5)
    return EngineOptions(samples=samples, max_tokens=generation.max_tokens,
                         confidence_threshold=generation.confidence_threshold,
                         guardrails=settings.guardrails, audit=audit,
                         validators=default_validators(workspace),
                         ranker=default_ranker(workspace, generation.confidence_threshold),
                         generated_tests=generation.generated_tests,
                         escalate_when=generation.escalate_when,
                         repairs=generation.repairs,
                         self_check=generation.self_check)


def warm_up(analysis: AnalysisContext) -> None:
    """Pay jedi's and flake8's one-off start-up costs (about 2 s: typeshed, the standard
    library, flake8's plugins) before the first answer needs them; run it off the main thread."""
    source = "import os\n\n\ndef f(path: str) -> str:\n    pass\n"
    request = ActionRequest(source, Pos(4, 4), workspace=analysis.workspace, analysis=analysis)
    candidate = Candidate(None, new_source=source.replace(
        "    pass\n", "    return os.path.join(path.strip(), 'x')\n"))
    for validate in default_validators(analysis.workspace):
        validate(request, candidate)
