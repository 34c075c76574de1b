# One image for the handler service, the workflow steps and the simulator.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY handler ./handler
COPY workflows ./workflows
COPY simulator ./simulator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home datasurface
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# Rendering templates and the model repo template live beside the package.
COPY argo /opt/datasurface/argo
COPY k8s /opt/datasurface/k8s
COPY model_repo_template /opt/datasurface/model_repo_template
ENV DATASURFACE_TEMPLATES=/opt/datasurface
USER 10001
ENTRYPOINT ["datasurface"]
