-- Run once by the postgres image's entrypoint, as POSTGRES_USER connected to
-- POSTGRES_DB, when docker compose starts the db service on an empty data
-- volume; a volume that already holds a database skips every script in
-- /docker-entrypoint-initdb.d. The schema is not created here: the migrate
-- service applies migrations/ right after the database is healthy.
--
-- Running this again does no harm: it only sets a database default.

-- Every session on this database starts in UTC, whatever the server's or the
-- client's local time zone, so that timestamps printed by psql or in logs
-- read the same everywhere. The service itself reads timestamptz values as
-- instants and does not depend on it.
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET timezone TO %L', current_database(), 'UTC');
END
$$;
