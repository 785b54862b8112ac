# The app image: `python -m app serve` behind uvicorn, as docker-compose.yml runs it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /srv/app app \
    && mkdir -p /srv/app/data && chown app /srv/app/data

USER app
EXPOSE 8000

# /healthz answers 200 while the process serves HTTP (a Redis outage does not make it unhealthy).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]

# WEB_CONCURRENCY: uvicorn worker processes. With more than one, set REDIS_URL so that a
# join handled by one worker reaches subscribers connected to another.
CMD ["sh", "-c", "exec python -m app serve --host 0.0.0.0 --port 8000 --workers \"${WEB_CONCURRENCY:-2}\""]
