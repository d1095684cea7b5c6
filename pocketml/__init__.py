"""pocketml: from a PyTorch model to a phone, with proof that every exported file computes
what the original computes."""

__version__ = "0.1.0"
