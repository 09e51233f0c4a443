# One image for every Lotse process; the command picks the role:
#   lotse serve <intake|referral|partner_adapter|partner_sandbox|gateway> --host 0.0.0.0
#   lotse relay <service> | lotse worker <service> | lotse migrate | lotse seed-demo
# See docker-compose.yml for the whole distributed stack, deploy/k8s for Kubernetes.
#
# Two stages: `build` turns the source into a wheel; the runtime stage installs only that
# wheel (and its dependencies), so what runs is exactly what `pip install lotse` ships, with
# everything Lotse reads at run time inside the package (shared/defaults, templates,
# translations, migrations): no source tree, no build tools.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# pyproject.toml names README.md as the package's readme, so it is part of the build.
COPY pyproject.toml README.md ./
COPY services ./services
COPY shared ./shared
RUN pip wheel --no-deps --wheel-dir /wheels .


FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --from=build /wheels /tmp/wheels
RUN pip install /tmp/wheels/lotse-*.whl && rm -rf /tmp/wheels

# Run as an unprivileged user. Its home is where gunicorn puts its control socket; generated
# files (LOTSE_DATA_DIR) go to /tmp/lotse unless the environment says otherwise. It owns
# /etc/lotse-broker, where compose's broker-definitions writes the broker's boot definitions
# (a new named volume takes the owner of the path it is mounted on).
RUN groupadd --gid 10001 lotse \
    && useradd --create-home --home-dir /home/lotse --uid 10001 --gid 10001 lotse \
    && install -d -o lotse -g lotse /etc/lotse-broker
# Numeric, so Kubernetes' runAsNonRoot can verify it is not root.
USER 10001:10001
WORKDIR /home/lotse
ENV LOTSE_DATA_DIR=/tmp/lotse

# Whether the process answers: GET $LOTSE_HEALTH_URL. Unset, it is /healthz on the metrics
# port when LOTSE_METRICS_PORT is set (relays and workers), else the default command's
# (intake, port 8001). A server on another port sets LOTSE_HEALTH_URL (or its orchestrator
# probes it directly, as docker-compose.yml and deploy/k8s do); LOTSE_HEALTH_URL=none turns
# the check off for commands without HTTP (migrate, seed-demo, topology).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('LOTSE_METRICS_PORT', '0'); url = os.environ.get('LOTSE_HEALTH_URL') or 'http://127.0.0.1:%s/healthz' % (port if port not in ('', '0') else '8001'); sys.exit(0) if url == 'none' else urllib.request.urlopen(url, timeout=4)"]

EXPOSE 8000 8001 8002 8003 8004 8005
CMD ["lotse", "serve", "intake", "--host", "0.0.0.0"]
