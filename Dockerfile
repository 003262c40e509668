# multipublish: the API with the dashboard, the queue workers, the MCP server, from one image.
#
#   docker build -t multipublish .
#   docker run --rm -p 8000:8000 --env-file .env multipublish            # serve (API, dashboard, workers)
#   docker run --rm --env-file .env multipublish worker --concurrency 8  # or only workers
#
# compose.yaml runs it with PostgreSQL, an API node and N worker nodes.

# -- build: the wheel, from the source tree ---------------------------------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /dist

# -- run: the wheel and its dependencies, nothing else ---------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MULTIPUBLISH_DATABASE_URL=sqlite:////data/multipublish.db \
    MULTIPUBLISH_MEDIA_ROOTS=/media \
    MULTIPUBLISH_LOG_JSON=true
# PyAV's wheels carry their own FFmpeg libraries: no system FFmpeg is needed to probe or publish.
COPY --from=build /dist/*.whl /tmp/
RUN python -m pip install /tmp/*.whl && rm /tmp/*.whl \
    && groupadd --system --gid 10001 multipublish \
    && useradd --system --uid 10001 --gid multipublish --home-dir /data --shell /usr/sbin/nologin multipublish \
    && mkdir -p /data /media \
    && chown multipublish:multipublish /data /media
USER 10001:10001
WORKDIR /data
VOLUME ["/data", "/media"]
EXPOSE 8000
# /healthz needs no token; a worker-only container overrides this (compose.yaml does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request\ntry:\n    ok = urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200\nexcept OSError:\n    ok = False\nsys.exit(0 if ok else 1)"]
ENTRYPOINT ["multipublish"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
