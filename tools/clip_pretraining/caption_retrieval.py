"""Zero-shot image-to-caption retrieval of a CLIP model on held-out
synthetic images: does the encoder still do what it was pretrained for?

``tools/pretrain_clip.py`` logs it after pretraining and
``benchmarks/peft_evidence.py`` measures it again after HARIS training.
Not a registered metric and not part of the installed ``projects.haris``
package.
"""
from typing import List, Sequence

import numpy as np
import torch
from torch import Tensor
from transformers import CLIPModel

from projects.haris.datasets.transforms import TokenizeExpression
from .synthetic_captions import all_captions, held_out_captions


def clip_pixels(images: List[np.ndarray], mean: Sequence[float],
                std: Sequence[float]) -> Tensor:
    """BGR uint8 images (H, W, 3) -> (N, 3, H, W) float RGB, normalised as
    HARIS's data preprocessor does (``mean``/``std`` on 0-255 pixels)."""
    x = torch.from_numpy(np.stack(images)[..., ::-1].copy()).float()
    x = x.permute(0, 3, 1, 2)  # (N, 3, H, W)
    mean = torch.tensor(mean).view(1, 3, 1, 1)
    std = torch.tensor(std).view(1, 3, 1, 1)
    return (x - mean) / std


def tokenize(texts: List[str], context_length: int) -> dict:
    """``input_ids`` and ``attention_mask`` (N, L) as HARIS tokenises."""
    tokenizer = TokenizeExpression(context_length=context_length)
    rows = [tokenizer.transform(dict(text=t)) for t in texts]
    return dict(
        input_ids=torch.from_numpy(np.stack([r['token_ids'] for r in rows])),
        attention_mask=torch.from_numpy(
            np.stack([r['token_mask'] for r in rows])).long())


class CaptionRetrieval:
    """Held-out synthetic images, each to be matched with its own caption
    among all 96 captions by CLIP's projected embeddings (cosine).

    Args:
        num_images (int): Held-out images (cycling through the captions).
        image_size (int): Side of the images.
        mean (Sequence[float]): Pixel mean, RGB, 0-255.
        std (Sequence[float]): Pixel std, RGB, 0-255.
        context_length (int): Token length of the captions.
        seed (int): Seed of the held-out stream. Defaults to 1000.
    """

    def __init__(self, num_images: int, image_size: int,
                 mean: Sequence[float], std: Sequence[float],
                 context_length: int, seed: int = 1000) -> None:
        images, labels = held_out_captions(num_images, seed, image_size)
        self.pixels = clip_pixels(images, mean, std)
        self.labels = torch.tensor(labels)
        self.captions = tokenize(all_captions(), context_length)

    @torch.no_grad()
    def logits(self, clip: CLIPModel, batch_size: int = 128) -> Tensor:
        """(N images, 96 captions) cosine similarities."""
        was_training = clip.training
        clip.eval()
        text = clip.get_text_features(**self.captions)
        image = torch.cat([
            clip.get_image_features(pixel_values=chunk)
            for chunk in self.pixels.split(batch_size)
        ])
        clip.train(was_training)
        text = text / text.norm(dim=-1, keepdim=True)
        image = image / image.norm(dim=-1, keepdim=True)
        return image @ text.t()

    def accuracy(self, clip: CLIPModel) -> float:
        """Top-1 image-to-caption accuracy in percent."""
        hits = self.logits(clip).argmax(dim=1) == self.labels
        return round(hits.float().mean().item() * 100, 2)
