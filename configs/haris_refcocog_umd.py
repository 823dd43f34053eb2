# Short name of the refcocog-umd config.
_base_ = ['./haris_clip-vit-b16-lora_4xb8-50e_refcocog-umd-416x416.py']
