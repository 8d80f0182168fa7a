"""Convolution kernels behind the layers (the im2col kernel lives in nn/conv.py); each is tested against nn/naive.py."""
