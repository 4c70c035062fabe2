# One image for the api, the migrate job and the workers; docker-compose.yml builds it
# twice: a CPU image (the default here) and a GPU image for the workers.
FROM python:3.11-slim

# torch is pinned, never left to the resolver: an unpinned torch pulls whatever CUDA
# build is newest. The CPU index keeps the image small; for a GPU image pass a CUDA
# index, --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cuXXX for a chosen
# CUDA version, or https://pypi.org/simple, whose Linux torch wheel is a CUDA build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 trainwell

WORKDIR /app

# torch first, in its own layer: it is by far the largest and changes least.
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0

COPY pyproject.toml alembic.ini ./
COPY sdk/ sdk/
COPY migrations/ migrations/
COPY core/ core/
COPY store/ store/
COPY uploads/ uploads/
COPY trainer/ trainer/
COPY worker/ worker/
COPY api/ api/
# A named volume mounted at /data starts with this directory's owner, so the
# non-root user can write uploaded datasets and checkpoints there.
RUN pip install ./sdk . \
    && mkdir -p /data \
    && chown trainwell:trainwell /data

USER trainwell
EXPOSE 8000
