"""``CLIPConfig`` arguments of public CLIP architectures, to build them
with random weights offline (parameter counts, benchmarks)."""

CLIP_VIT_B16 = dict(
    projection_dim=512,
    text_config=dict(
        hidden_size=512,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=8,
        max_position_embeddings=77,
        vocab_size=49408),
    vision_config=dict(
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        image_size=224,
        patch_size=16))

ARCHITECTURES = {'openai/clip-vit-base-patch16': CLIP_VIT_B16}
