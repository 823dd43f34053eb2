from .referring_visualizer import ReferringVisualizer, add_caption, draw_mask

__all__ = ['ReferringVisualizer', 'add_caption', 'draw_mask']
