# One image for every Lotse process; the command picks the role:
#   lotse serve <intake|referral|partner_adapter|partner_sandbox|gateway> --host 0.0.0.0
#   lotse relay <service> | lotse worker <service> | lotse migrate | lotse seed-demo
# See docker-compose.yml for the whole distributed stack.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# pyproject.toml names README.md as the package's readme, so it is part of the build.
COPY pyproject.toml README.md ./
COPY services ./services
COPY shared ./shared
RUN pip install . && rm -rf /src/build /src/*.egg-info

# Run as an unprivileged user. Its home is where gunicorn puts its control socket; generated
# files (LOTSE_DATA_DIR) go to /tmp/lotse unless the environment says otherwise. It owns
# /etc/lotse-broker, where compose's broker-definitions writes the broker's boot definitions
# (a new named volume takes the owner of the path it is mounted on).
RUN useradd --create-home --home-dir /home/lotse --uid 10001 --user-group lotse \
    && install -d -o lotse -g lotse /etc/lotse-broker
USER lotse
WORKDIR /home/lotse
ENV LOTSE_DATA_DIR=/tmp/lotse

EXPOSE 8000 8001 8002 8003 8004
CMD ["lotse", "serve", "intake", "--host", "0.0.0.0"]
