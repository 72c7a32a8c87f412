# The market backend as a container image (docs/deploy.md, "Containers"; compose.yaml runs it
# with MariaDB). Every setting comes from MARKET_<SECTION>_<KEY> variables: the image reads no
# config file (--config ""), and its folder for data is /var/lib/market (the working directory):
# data/ (SQLite database, generated secrets) and media/ (uploads, uploads-private) are volumes.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --user-group --home-dir /var/lib/market --shell /usr/sbin/nologin market \
    && install -d -o market -g market -m 0750 /var/lib/market /var/lib/market/data \
       /var/lib/market/media

WORKDIR /opt/market
COPY requirements.txt /opt/market/requirements.txt
RUN pip install -r /opt/market/requirements.txt
COPY . /opt/market

# Serve on every interface of the container; the database and uploads live in the volumes.
ENV MARKET_SERVER_HOST=0.0.0.0 \
    MARKET_SERVER_PORT=8000 \
    MARKET_UPLOADS_DIR=/var/lib/market/media/uploads

USER market
WORKDIR /var/lib/market
VOLUME ["/var/lib/market/data", "/var/lib/market/media"]
EXPOSE 8000
STOPSIGNAL SIGTERM

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MARKET_SERVER_PORT', '8000'), timeout=4)"]

# `docker run IMAGE migrate`, `... seed-demo`, `... create-admin --username NAME`; serve by default
ENTRYPOINT ["python", "/opt/market/main.py", "--config", ""]
CMD ["serve"]
