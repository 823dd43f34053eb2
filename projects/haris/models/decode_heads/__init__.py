from .query_decode_head import QueryDecodeHead

__all__ = ['QueryDecodeHead']
