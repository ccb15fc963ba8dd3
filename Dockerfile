# capital-tracker: migrates the database, then serves app.main:app on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////var/lib/capital-tracker/capital-tracker.db

WORKDIR /srv/capital-tracker
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY seed ./seed
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --no-create-home captrack \
    && mkdir -p /var/lib/capital-tracker \
    && chown captrack /var/lib/capital-tracker

USER captrack
VOLUME ["/var/lib/capital-tracker"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
# Same commands as README: migrate, then serve (seed with `docker run ... python -m app seed`).
CMD ["sh", "-c", "python -m app migrate && exec python -m app serve --host 0.0.0.0 --port 8000"]
