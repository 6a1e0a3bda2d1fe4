#!/bin/sh
# Run once by the postgres image's entrypoint, when docker compose starts the
# db service on an empty data volume: creates the service's owner and runtime
# roles from .env (DB_OWNER_* and DB_APP_*, which docker-compose.yml passes to
# the db service) with internal/database/roles.sql, mounted at
# /accounts/roles.sql. The manual set-up of docs/security.md runs the same file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v database="$POSTGRES_DB" \
  -v owner="$DB_OWNER_USER" -v owner_password="$DB_OWNER_PASSWORD" \
  -v runtime="$DB_APP_USER" -v runtime_password="$DB_APP_PASSWORD" \
  -f /accounts/roles.sql
