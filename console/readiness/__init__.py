"""The seed's production-readiness checklist, evaluated live (no Textual here)."""

from console.readiness.evaluate import evaluate
from console.readiness.inputs import Inputs
from console.readiness.model import ITEMS, Mark, Scorecard, Verdict

__all__ = ["ITEMS", "Inputs", "Mark", "Scorecard", "Verdict", "evaluate"]
