-- The two roles of an accounts database, as production PostgreSQL
-- deployments have them: the owner role owns the schema and runs the
-- migrations (`accounts migrate apply`); the runtime role is what `serve`
-- connects as, and can only read and write rows (SELECT, INSERT, UPDATE,
-- DELETE): it cannot drop, alter or create a table. New tables follow by
-- themselves: the default privileges below grant the runtime role its rights
-- on every table the owner role creates later, so a migration that adds a
-- table needs no GRANT of its own.
--
-- Run it once, on a database that is still empty, as a superuser connected to
-- that database, with psql's variables set:
--
--   psql -v ON_ERROR_STOP=1 -d app -v database=app \
--     -v owner=accounts_owner -v owner_password='...' \
--     -v runtime=accounts_app -v runtime_password='...' -f internal/database/roles.sql
--
-- docker compose runs it on the first start of the db service
-- (scripts/init-db-roles.sh) and `accounts dev` on the database it prepares
-- (internal/database.Roles, which fills in the variables as psql does).

CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"runtime" LOGIN PASSWORD :'runtime_password';

-- The owner role owns the database and its public schema: it creates the
-- tables, and the schema of the revision table, atlas_schema_revisions.
ALTER DATABASE :"database" OWNER TO :"owner";
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The runtime role reads and writes the rows of the tables in public, reads
-- the revision table (readiness compares it with the build), and nothing else.
GRANT CONNECT ON DATABASE :"database" TO :"runtime";
GRANT USAGE ON SCHEMA public TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" GRANT USAGE ON SCHEMAS TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" GRANT SELECT ON TABLES TO :"runtime";
