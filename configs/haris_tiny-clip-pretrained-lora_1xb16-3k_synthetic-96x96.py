# HARIS on a small CLIP pretrained contrastively on synthetic captions
# (tools/pretrain_clip.py), frozen with LoRA adapters: the paper's recipe at
# demo scale. Pretrain first:
#   python tools/pretrain_clip.py configs/haris_synthetic.py \
#       --out work_dirs/tiny_clip
_base_ = ['./haris_tiny-clip_1xb16-3k_synthetic-96x96.py']
model = dict(
    backbone=dict(
        pretrained='work_dirs/tiny_clip',
        clip_config=None,
        frozen=True,
        peft_cfg=dict(
            _delete_=True,
            peft_type='LORA',
            r=8,
            lora_alpha=16,
            lora_dropout=0.1,
            target_modules=['q_proj', 'k_proj', 'v_proj', 'out_proj'])))
