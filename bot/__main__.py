"""``python -m bot``: start the gateway (settings from the environment)."""

from __future__ import annotations

import os

from bot.app import create_app
from bot.observability import configure_logging
from bot.settings import Settings


def main() -> None:
    """Configure logging, build the app and serve it."""
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    settings = Settings.from_env()
    app = create_app(settings)
    app.run(
        host=settings.host,
        port=settings.port,
        access_log=False,
        motd=False,
        workers=1,
    )


if __name__ == "__main__":
    main()
