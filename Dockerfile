# The same app as `pip install .`: entrypoint `arconnect` (the scheduler issue makes `run` the
# default command). Settings come from ARCONNECT_* environment variables.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY connector connector
COPY adapters adapters
COPY mappings mappings
COPY config config
COPY sandbox sandbox
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /wheels

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 arconnect
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER arconnect
WORKDIR /home/arconnect
# The store's folder exists in the image, owned by arconnect: a volume mounted on it takes that
# ownership (arconnect refuses a SQLite store in a missing folder rather than create one).
RUN mkdir -p /home/arconnect/data
ENV ARCONNECT_DATABASE_URL=sqlite:////home/arconnect/data/arconnect.db
VOLUME ["/home/arconnect/data"]
ENTRYPOINT ["arconnect"]
CMD ["--help"]
