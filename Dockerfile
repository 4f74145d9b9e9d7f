# tickerbeat's one image: workers, beat, Flower, the metrics exporter and the migration all run from it
# (docker-compose.yml picks the command). Debian bookworm: its postgresql-client (pg_dump 15) matches the
# compose database's major version, for the nightly backup.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . /app
# The dependencies and the packages; processes run from /app, so the migrations beside storage/ are found.
RUN pip install '.[postgres]'

RUN useradd --create-home --uid 10001 --user-group tickerbeat \
    && mkdir -p /data/reports /data/backups \
    && chown -R tickerbeat:tickerbeat /data
USER tickerbeat

ENV TICKERBEAT_DATA_DIR=/data \
    TICKERBEAT_REPORTS_DIR=/data/reports
VOLUME ["/data"]
EXPOSE 5555 9102

CMD ["celery", "-A", "worker", "worker", "-Q", "control", "-l", "INFO"]
