"""The web console: static HTML/CSS/JS served at ``/console``.

It holds no server logic: the browser calls Spruce's public REST API (the one the
SDK uses) with the user's API key, so the console can do nothing a key cannot.
``spruce.server`` adds ``routes`` to the REST app; nothing else imports this package.
"""

from spruce.console.routes import STATIC_DIR, routes

__all__ = ["STATIC_DIR", "routes"]
