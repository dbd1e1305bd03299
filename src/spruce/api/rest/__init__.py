"""Pinecone's REST API (control and data planes) over Starlette."""

from spruce.api.rest.app import build_app

__all__ = ["build_app"]
