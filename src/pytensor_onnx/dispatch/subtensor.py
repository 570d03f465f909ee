"""Indexing: Subtensor, AdvancedSubtensor(1), IncSubtensor and friends."""
