# One image for the handler service, the workflow steps and the simulator. The rendering
# templates and the model repository template are package data: the wheel carries them.
FROM python:3.13-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY handler ./handler
COPY workflows ./workflows
COPY simulator ./simulator
COPY pgtools ./pgtools
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.13-slim
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home datasurface
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
ENTRYPOINT ["datasurface"]
