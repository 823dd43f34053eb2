from .ffn import FFN

__all__ = ['FFN']
