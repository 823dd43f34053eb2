"""Total / trainable parameters of the paper-scale model per part, for
LoRA (default), full fine-tuning and frozen encoders without adapters, and
its GFLOPs per part at 416x416 with a 10-word sentence.
Usage: python benchmarks/parameters.py
"""
import os.path as osp

from mmengine.config import Config
from mmengine.registry import init_default_scope

from common import ROOT, write_result
from mmseg.registry import MODELS
from projects.haris.models.backbones import ARCHITECTURES
from tools.analysis.flop_count import flops_table
from tools.analysis.parameter_count import parameter_table

VARIANTS = {
    'frozen + LoRA (default)': {},
    'full fine-tuning': dict(frozen=False, peft_cfg=None),
    'frozen, no adapters': dict(peft_cfg=None),
}


def main():
    init_default_scope('mmseg')
    rows, gflops = {}, None
    for name, changes in VARIANTS.items():
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_refcoco.py'))
        backbone = cfg.model.backbone
        backbone.clip_config = ARCHITECTURES[backbone.pretrained]
        backbone.pretrained = None
        backbone.update(changes)
        model = MODELS.build(cfg.model)
        table = parameter_table(model)
        if gflops is None:
            gflops = {k: round(v, 2) for k, v in flops_table(
                model.eval(), 416, 22, tokens=12).items()}
        rows[name] = {k: dict(total=t, trainable=tr)
                      for k, (t, tr) in table.items()}
    write_result('parameters', dict(
        variants=rows, target_trainable=12_000_000,
        gflops_416=gflops,
        etris_reference=dict(adapters=600_000, trainable=23_800_000,
                             source="ETRIS ViT-B/16 as counted from its "
                             'public code (not recounted here)')))


if __name__ == '__main__':
    main()
