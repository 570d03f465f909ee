"""Reductions and other ops of pytensor.tensor.math (Argmax, ...)."""
