"""Reading run datasets: summaries and the paper's analyses. Works on datasets alone, never on the simulator."""
from .summary import correct_by_trial, later_correct, summary, summary_text

__all__ = ["correct_by_trial", "later_correct", "summary", "summary_text"]
