"""Small custom ops for the tests: one tensor in, one tensor of the same type out."""

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op


class UnaryTestOp(Op):
    """Base class: subclasses define ``compute(x)`` (NumPy), the op's Python implementation."""

    __props__ = ()

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        output_storage[0][0] = np.asarray(self.compute(x), dtype=x.dtype)

    @staticmethod
    def compute(x):
        return x.copy()
