# One image for the api, the workers and the migrate job.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY caviar ./caviar
COPY api ./api
COPY worker ./worker
COPY web ./web
COPY migrations ./migrations
RUN pip install --no-cache-dir -e .
ENV CAVIAR_DATA_DIR=/data
EXPOSE 8000
CMD ["caviar", "api", "--host", "0.0.0.0", "--port", "8000"]
