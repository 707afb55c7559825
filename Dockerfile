# syntax=docker/dockerfile:1
# Loom: one image for the app, the Dask scheduler and the Dask workers (they share core/).

# --- build: install the pinned dependencies into a virtual environment --------------------
FROM python:3.11-slim AS build
# GPU=1 builds the GPU image: TensorFlow with its CUDA libraries (pip's `and-cuda` extra; the
# host needs an NVIDIA driver and the container toolkit) and NVML for the Cluster page.
#   docker build --build-arg GPU=1 -t loom:gpu .
ARG GPU=0
# LOOM_EXTRAS adds Keras backends beside TensorFlow, space-separated: "jax", "torch" or
# "jax torch" (requirements-<extra>.txt, pinned). Workers need the backend a run names.
#   docker build --build-arg LOOM_EXTRAS="jax torch" -t loom:all .
ARG LOOM_EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt requirements-jax.txt requirements-torch.txt /tmp/
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt \
    && for extra in $LOOM_EXTRAS; do \
        case "$extra" in \
            jax|torch) /opt/venv/bin/pip install -r "/tmp/requirements-$extra.txt" || exit 1 ;; \
            *) echo "LOOM_EXTRAS: unknown extra '$extra'; valid extras are: jax torch" >&2; exit 1 ;; \
        esac; \
    done \
    && if [ "$GPU" = "1" ]; then \
        /opt/venv/bin/pip install "tensorflow[and-cuda]==$(grep -oP '^tensorflow==\K.*' /tmp/requirements.txt)" nvidia-ml-py; \
    fi

# --- runtime: slim, non-root ----------------------------------------------------------------
FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 loom \
    && mkdir -p /data \
    && chown loom:loom /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    LOOM_DATA_DIR=/data
WORKDIR /app
COPY --chown=loom:loom app.py ./
COPY --chown=loom:loom .streamlit ./.streamlit
COPY --chown=loom:loom core ./core
COPY --chown=loom:loom pages ./pages
COPY --chown=loom:loom assets ./assets
USER loom
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"]
# Inside a container the app must listen on all interfaces; publish the port on loopback
# (see deploy/docker-compose.yml) unless you mean to expose it.
ENTRYPOINT ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]
