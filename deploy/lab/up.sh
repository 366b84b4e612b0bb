#!/usr/bin/env bash
# Brings the lab up (docker-compose.yml at the repository root): builds the binary on
# the host and stages the image (deploy/image/stage.sh; no image is pulled), writes a
# random lab token to deploy/lab/fleet.token and a cookie secret to deploy/lab/cookie.secret
# if they are missing (the servers' configuration is mounted read-only), then
# `docker compose up --build -d` and waits until both servers answer.
#   deploy/lab/up.sh             # release build
#   deploy/lab/up.sh --debug     # stage the debug build instead (quicker to build)
# Stop it with `docker compose down -v` (or docker-compose with Compose v1).
# COMPOSE_PROJECT_NAME and the other Compose variables are honoured.
set -euo pipefail
cd "$(dirname "$0")/../.."

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  echo "lab: needs Docker Compose (docker compose, or docker-compose)" >&2
  exit 1
fi

deploy/image/stage.sh "$@"

# Random secrets, readable by the containers' user (10001): lab secrets, for a lab whose
# API is published on 127.0.0.1 only.
secret() { # FILE BYTES
  if [ ! -s "$1" ]; then
    (od -An -N"$2" -tx1 /dev/urandom | tr -d ' \n'; echo) >"$1"
    chmod 0644 "$1"
    echo "lab: wrote a new random secret to $1"
  fi
}
secret deploy/lab/fleet.token 24
secret deploy/lab/cookie.secret 16

"${compose[@]}" up --build -d

# Ready when both APIs answer /v1/status (docker's port proxy takes connections before
# the server listens, so an open port says nothing).
api_ready() { # PORT
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /v1/status HTTP/1.0\r\nHost: lab\r\n\r\n' >&3
    read -r -t 2 status <&3 || exit 1
    [[ $status == "HTTP/1."?" 200"* ]]
  ) 2>/dev/null
}
for port in 5381 5382; do
  for i in $(seq 1 120); do
    api_ready "$port" && break
    [ "$i" = 120 ] && { echo "lab: the server on 127.0.0.1:$port did not answer within 60 s" >&2; exit 1; }
    sleep 0.5
  done
done
cat <<TEXT
lab: up (project ${COMPOSE_PROJECT_NAME:-meridian-lab}). Try
  dig @127.0.0.1 -p 5301 www.lab.example +subnet=81.2.69.0/24 +short   # London: eu-west, 172.30.1.10
  dig @127.0.0.1 -p 5301 www.lab.example +subnet=13.52.0.0/24 +short   # California: us-west, 172.30.2.10
  dig @127.0.0.1 -p 5302 www.lab.example +subnet=52.68.0.0/24 +short   # Tokyo: ap-northeast, 172.30.3.10
  ${compose[*]} stop backend-eu        # London moves to us-west; start brings it back
  http://127.0.0.1:5381/ and http://127.0.0.1:5382/: the servers' status pages
  ${compose[*]} down -v                # stop it all and remove its volumes
TEXT
