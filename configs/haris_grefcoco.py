# Short name of the gRefCOCO config.
_base_ = ['./haris_clip-vit-b16-lora_4xb8-50e_grefcoco-416x416.py']
