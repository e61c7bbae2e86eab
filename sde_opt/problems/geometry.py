"""Geometries live in ``sde_opt.geometry``; this module re-exports them for older imports."""

from ..geometry import AbstractGeometry, Euclidean, Oblique, Product, Sphere

__all__ = ["AbstractGeometry", "Euclidean", "Sphere", "Oblique", "Product"]
