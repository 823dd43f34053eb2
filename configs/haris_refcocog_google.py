# Short name of the refcocog-google config.
_base_ = ['./haris_clip-vit-b16-lora_4xb8-50e_refcocog-google-416x416.py']
