"""A neural-network engine written from scratch with NumPy: every forward and backward pass is
derived and written by hand, no autograd (tests check it against finite differences and
against torch). Selected with `engine=numpy` for mlp configs."""
