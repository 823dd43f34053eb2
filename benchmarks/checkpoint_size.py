"""Checkpoint size of configs/haris_refcoco.py: full vs what trains.

Builds the paper-scale model (CLIP ViT-B/16 architecture, random weights:
no download), gives AdamW its state with one step, and serialises the
checkpoint as mmengine's Runner does (model state, optimizer state), once
with every weight and once without the frozen pretrained CLIP weights
(``TrainableCheckpointHook``'s default).
"""
import io

from common import paper_model, torch, write_result

from projects.haris.utils.frozen_weights import (fingerprint,
                                                 frozen_pretrained_keys,
                                                 strip_frozen)


def serialised_mib(obj) -> float:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.tell() / 2**20


def main():
    model = paper_model()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    for p in params:
        p.grad = torch.zeros_like(p)
    optimizer.step()
    state = model.state_dict()
    # configs/haris_refcoco.py loads CLIP from this hub id
    keys = frozen_pretrained_keys(
        model, dict(pretrained='openai/clip-vit-base-patch16'))
    full = dict(state_dict=dict(state), optimizer=optimizer.state_dict(),
                meta={})
    small_state = dict(state)
    meta = dict(frozen_weights=strip_frozen(
        small_state, keys, fingerprint(state, keys),
        'openai/clip-vit-base-patch16'))
    small = dict(state_dict=small_state, optimizer=optimizer.state_dict(),
                 meta=meta)
    sizes = dict(
        full_mib=serialised_mib(full),
        trained_only_mib=serialised_mib(small),
        full_weights_mib=serialised_mib(full['state_dict']),
        trained_only_weights_mib=serialised_mib(small_state))
    write_result(
        'checkpoint_size',
        dict(sizes,
             frozen_tensors_left_out=len(keys),
             trainable_parameters=sum(p.numel() for p in params),
             ratio_with_optimizer=sizes['trained_only_mib'] /
             sizes['full_mib'],
             ratio_weights_only=sizes['trained_only_weights_mib'] /
             sizes['full_weights_mib']))


if __name__ == '__main__':
    main()
