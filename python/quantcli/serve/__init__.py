"""``quantcli serve``: a web app and HTTP API over the same per-file pipeline as the CLI.

FastAPI on Starlette, run by uvicorn; SQLAlchemy 2 for accounts, jobs and results;
argon2id for passwords; Jinja2 pages with a little plain JavaScript, served locally.
Needs the ``serve`` extra: ``pip install 'quantcli[serve]'``. Start with
:func:`quantcli.serve.app.create_app` and a :class:`quantcli.serve.config.ServeConfig`.
"""
