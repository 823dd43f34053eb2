from .attention_recorder import record_attention
from .ffn import FFN

__all__ = ['FFN', 'record_attention']
