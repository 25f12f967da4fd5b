"""reenact: one-shot face reenactment guided by 3-D face meshes (Yao et al., ACM MM 2020)."""

__version__ = "0.1.0"
