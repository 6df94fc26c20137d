"""The web dashboard behind ``myovox serve``: live signals, recognised commands, guided recording, fine-tuning.

- :mod:`myovox.web.session`: :class:`~myovox.web.session.DashboardSession`, the one live session
  (source, recogniser, crash-safe recorder, fine-tuning) that every connected page watches;
- :mod:`myovox.web.server`: the FastAPI application, its security guard and the uvicorn runner
  (needs ``pip install 'myovox[web]'``);
- :mod:`myovox.web.signals`: display decimation and per-channel contact quality;
- :mod:`myovox.web.paths`: every client-supplied path resolved inside the data folder only;
- :mod:`myovox.web.messages`: the WebSocket commands and their validation;
- :mod:`myovox.web.sources`: the recorder's feed and the demo's synthetic participant;
- :mod:`myovox.web.demo`: the synthetic data and model of ``myovox serve --demo``;
- ``static/``: the page (HTML, CSS and plain JavaScript; no build step, nothing from a CDN).

Only :mod:`myovox.web.server` imports FastAPI and uvicorn; ``import myovox`` imports none of this.
"""

from __future__ import annotations

__all__: list[str] = []
