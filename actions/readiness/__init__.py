"""The seed's production-readiness checklist, evaluated live (no Textual here)."""

from actions.readiness.evaluate import evaluate
from actions.readiness.inputs import Inputs
from actions.readiness.model import ITEMS, Mark, Scorecard, Verdict

__all__ = ["ITEMS", "Inputs", "Mark", "Scorecard", "Verdict", "evaluate"]
