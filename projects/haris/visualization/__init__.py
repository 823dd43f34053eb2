from .referring_visualizer import ReferringVisualizer, add_caption

__all__ = ['ReferringVisualizer', 'add_caption']
