"""The rubric grader: deterministic checks, an optional LLM judge held to verbatim evidence, and scorecards."""
from .grade import CriterionScore, Grader, Scorecard

__all__ = ["CriterionScore", "Grader", "Scorecard"]
