from .referring_data_preprocessor import ReferringDataPreProcessor

__all__ = ['ReferringDataPreProcessor']
