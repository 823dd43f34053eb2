# Short name of the PhraseCut zero-shot test config.
_base_ = ['./haris_clip-vit-b16-lora_zeroshot_phrasecut-416x416.py']
