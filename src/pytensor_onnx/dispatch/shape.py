"""Shape ops: Shape, Shape_i, SpecifyShape, Reshape, ..."""
