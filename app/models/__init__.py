"""All mapped tables; importing this module registers them on Base.metadata."""

from app.models.core import STATUS_VALUES, Dataset, Example, ReviewStatus

__all__ = ["STATUS_VALUES", "Dataset", "Example", "ReviewStatus"]
