"""Scalar ops of pytensor.scalar.math and the decompositions ONNX needs for them."""
