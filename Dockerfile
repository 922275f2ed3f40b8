# Production image: the app on uvicorn, talking to Postgres (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SIFT_HOME=/data
WORKDIR /srv/sift
COPY pyproject.toml README.md LICENSE alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir -e . && useradd --system --home /data sift && mkdir -p /data \
    && chown sift /data
USER sift
EXPOSE 8000
CMD ["sh", "-c", "sift db upgrade && exec sift serve --host 0.0.0.0 --port 8000"]
