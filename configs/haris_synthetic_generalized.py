# Short name of the generalized synthetic demo.
_base_ = ['./haris_tiny-clip_1xb16-3k_synthetic-generalized-96x96.py']
