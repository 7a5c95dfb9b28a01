# Dockerfile: ccm in a container (docs/operations.md). Two stages: build on
# Debian 12 with the -dev packages, run on debian:bookworm-slim with only
# the runtime libraries, as an unprivileged user. Linted by
# packaging/lint.sh (npm dockerfilelint).
#
#   docker build -t ccm .
#   docker compose -f packaging/docker-compose.yml up -d

FROM debian:bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       build-essential pkg-config meson ninja-build ca-certificates \
       libwebsockets-dev libcurl4-openssl-dev libmsgpack-dev liblmdb-dev \
       libjansson-dev libyaml-dev libssl-dev libsystemd-dev nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . /src
# The control panel's chart library (web/panel/package.json).
RUN cd /src/web/panel && npm ci --no-audit --no-fund --omit=dev
RUN meson setup /build --buildtype=release -Dtests=disabled \
    && ninja -C /build app/ccm \
    && install -D -m 0755 /build/app/ccm /out/usr/local/bin/ccm \
    && install -D -m 0644 docs/operations.md \
       /out/usr/local/share/doc/ccm/operations.md \
    && install -D -m 0644 packaging/ccm.docker.yaml /out/etc/ccm/ccm.yaml

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="ccm" \
      org.opencontainers.image.description="Claude Code Manager daemon"
# Runtime libraries only; git for scans and agent worktrees, curl for the
# health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libwebsockets17 libcurl4 libmsgpackc2 liblmdb0 libjansson4 \
       libyaml-0-2 libssl3 libsystemd0 git ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home \
       --home-dir /var/lib/ccm --shell /usr/sbin/nologin ccm \
    && git config --system --add safe.directory '/srv/src/*'
COPY --from=build /out/ /
# The panel's files are read from the path the build compiled in.
COPY --from=build /src/web/panel /src/web/panel
USER ccm
WORKDIR /var/lib/ccm
VOLUME ["/var/lib/ccm"]
EXPOSE 8080
# GET /api/v1/health with the bearer token when one is set (read from the
# environment on stdin, so it is not on a command line). No --start-period:
# dockerfilelint 1.8 misreads it; three retries cover a cold start.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD printf 'Authorization: Bearer %s\n' "${CCM_TOKEN:-none}" \
        | curl -fsS -o /dev/null -H @- http://127.0.0.1:8080/api/v1/health \
        || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ccm"]
CMD ["serve", "--config", "/etc/ccm/ccm.yaml", "--data", "/var/lib/ccm"]
