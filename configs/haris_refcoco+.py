# Short name of the refcoco+ config.
_base_ = ['./haris_clip-vit-b16-lora_4xb8-50e_refcoco+-416x416.py']
