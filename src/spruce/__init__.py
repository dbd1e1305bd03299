"""Spruce: a self-hostable vector database whose API is Pinecone's."""

from spruce.config import Settings
from spruce.errors import SpruceError

__all__ = ["Settings", "SpruceError", "__version__"]

__version__ = "0.1.0"
