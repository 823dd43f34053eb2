from .inferencer import RefSegInferencer, load_image

__all__ = ['RefSegInferencer', 'load_image']
