# syntax=docker/dockerfile:1
# pryv in a small, non-root image. Everything it keeps lives under the /data volume:
# /data/pryv.ini (seeded on first start), /data/users.json, /data/projects, /data/packages.
#
#   docker build -t pryv .
#   docker run -d --name pryv -p 5555:5555 -v pryv-data:/data pryv
#   docker exec -it pryv pryv user add alice

# --- build: the wheel, and every dependency as a wheel, so the final stage needs no compiler ---
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pryv_server ./pryv_server
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir build==1.3.0 \
    && python -m build --wheel --outdir /dist \
    && pip wheel --no-cache-dir --wheel-dir /dist "$(ls /dist/pryv-*.whl)[aws]"

# --- runtime ---
FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PRYV_CONFIG_PATH=/data/pryv.ini
COPY --from=build /dist /tmp/dist
# --no-index: only the wheels built above, so every version is fixed by the build stage (DL3013).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --find-links /tmp/dist "pryv[aws]" \
    && rm -rf /tmp/dist \
    && groupadd --system --gid 10001 pryv \
    && useradd --system --uid 10001 --gid pryv --home-dir /data --no-create-home pryv \
    && mkdir -p /data /etc/pryv \
    && chown pryv:pryv /data
COPY docker/pryv.ini /etc/pryv/pryv.ini
COPY docker/entrypoint.sh /usr/local/bin/pryv-entrypoint
VOLUME ["/data"]
WORKDIR /data
# Numeric, so orchestrators can check runAsNonRoot.
USER 10001:10001
EXPOSE 5555
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5555/health', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["/usr/local/bin/pryv-entrypoint"]
CMD ["pryv", "start", "--host", "0.0.0.0"]
