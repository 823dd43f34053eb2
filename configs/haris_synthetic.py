# Short name of the embedded synthetic demo.
_base_ = ['./haris_tiny-clip_1xb16-3k_synthetic-96x96.py']
