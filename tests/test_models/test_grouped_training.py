"""Training encodes each image of a batch once: the same losses and
gradients as one vision pass per sentence, and the data pipeline gives the
refs of an image equal inputs in one batch."""
import collections

import numpy as np
import torch
from mmengine.runner import Runner
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from tests.tiny_models import tiny_model_cfg

NO_DROPOUT_LORA = dict(peft_type='LORA', r=4, lora_alpha=8,
                       lora_dropout=0.0,
                       target_modules=['q_proj', 'k_proj', 'v_proj'])


def shared_image_batch():
    """Five samples over two images (A three times, B twice), each with
    its own sentence and mask."""
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randint(0, 255, (3, 64, 48), generator=gen).float()
            for _ in range(2))
    words = [736, 1746, 7117, 2866, 3360]
    samples = []
    for k, (path, word) in enumerate(zip('aabab', words)):
        s = SegDataSample(metainfo=dict(
            img_path=f'{path}.jpg', ori_shape=(64, 48), img_shape=(64, 48),
            text='x', token_ids=np.array([49406, word, 7117, 49407, 0, 0]),
            token_mask=np.array([1, 1, 1, 1, 0, 0], bool)))
        mask = torch.zeros(1, 64, 48, dtype=torch.long)
        mask[:, 8 * k:8 * k + 20, 4 * k:4 * k + 24] = 1
        s.gt_sem_seg = PixelData(data=mask)
        samples.append(s)
    images = [a, a.clone(), b, a.clone(), b.clone()]
    return dict(inputs=images, data_samples=samples)


def losses_and_grads(model, once):
    model.train_cfg['encode_each_image_once'] = once
    model.zero_grad()
    sizes = []
    hook = model.backbone.clip.vision_model.embeddings.register_forward_hook(
        lambda mod, args, out: sizes.append(out.shape[0]))
    data = model.data_preprocessor(shared_image_batch(), True)
    losses = model(**data, mode='loss')
    hook.remove()
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.requires_grad and p.grad is not None}
    return sizes, losses, grads


def test_grouped_loss_has_the_per_sentence_gradients():
    torch.manual_seed(0)
    cfg = tiny_model_cfg(peft_cfg=NO_DROPOUT_LORA)
    cfg['decode_head']['dropout_ratio'] = 0.0  # no random draws
    model = MODELS.build(cfg).train()
    with torch.no_grad():  # as if trained: LoRA B is zero at init
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.2)
    sizes_each, losses_each, grads_each = losses_and_grads(model, False)
    sizes_once, losses_once, grads_once = losses_and_grads(model, True)
    assert sizes_each == [5] and sizes_once == [2]
    for key in losses_each:
        torch.testing.assert_close(losses_once[key], losses_each[key])
    assert grads_once.keys() == grads_each.keys()
    vision_lora = [n for n in grads_each
                   if 'vision_model' in n and 'lora_' in n]
    assert vision_lora  # the shared pass's adapters get gradients
    for name in grads_each:
        torch.testing.assert_close(grads_once[name], grads_each[name],
                                   atol=1e-6, rtol=1e-4, msg=name)
    assert all(grads_each[n].abs().sum() > 0 for n in vision_lora)


def test_grouped_batches_share_flips_and_inputs(tmp_path):
    pipeline = [
        dict(type='LoadReferringImage'),
        dict(type='LoadReferringMask'),
        dict(type='PickExpression'),
        dict(type='RandomFlipReferring', prob=0.5, direction='horizontal'),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        dict(type='TokenizeExpression', context_length=8),
        dict(type='PackReferringInputs'),
    ]
    loader = Runner.build_dataloader(dict(
        batch_size=6,
        num_workers=1,
        sampler=dict(type='ImageGroupedSampler', shuffle=True),
        batch_sampler=dict(type='ImageGroupedBatchSampler'),
        dataset=dict(type='SyntheticReferringDataset',
                     data_root=str(tmp_path), split='train', num_samples=24,
                     image_size=64, refs_per_image=3, pipeline=pipeline)),
        seed=1)
    dataset = loader.dataset
    refs_per_image = collections.Counter(
        dataset.get_data_info(i)['img_path'] for i in range(len(dataset)))
    assert len(refs_per_image) == 24 and max(refs_per_image.values()) > 1
    model = MODELS.build(tiny_model_cfg())
    seen, flips, samples, distinct = [], set(), 0, 0
    for data in loader:
        by_image = collections.defaultdict(list)
        for img, s in zip(data['inputs'], data['data_samples']):
            by_image[s.img_path].append((img, s.flip))
            seen.append(s.ref_id)
        for items in by_image.values():
            assert len({flip for _, flip in items}) == 1
            assert all(torch.equal(img, items[0][0]) for img, _ in items)
            flips.add(items[0][1])
        batch = model.data_preprocessor(data, True)
        images, _ = model.group_images(
            batch['inputs'], [s.metainfo for s in batch['data_samples']])
        samples += len(data['inputs'])
        distinct += images.shape[0]
    assert sorted(seen) == list(range(len(dataset)))  # every ref once
    assert flips == {True, False}
    assert distinct <= 0.6 * samples  # images shared within batches
