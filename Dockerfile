# One image for every Pakta process: `pakta api`, `pakta worker`, `pakta db upgrade`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY services ./services
COPY workflows ./workflows
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 pakta
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER pakta
ENV PAKTA_ENV=production \
    PAKTA_API_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
EXPOSE 8000 9464
CMD ["pakta", "api"]
