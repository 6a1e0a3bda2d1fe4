# Atlas project file: the Atlas CLI (any build, open-source or official)
# and the accounts binary read and write the same migrations/ directory
# (same atlas.sum) and the same revision table (atlas_schema_revisions), and
# write the same file for a schema change:
#
#   atlas migrate diff --env local NAME     # = accounts migrate diff NAME
#   atlas migrate apply --env local         # = accounts migrate apply
#   atlas migrate status --env local        # = accounts migrate status
#   atlas migrate lint --env local --latest 1
#
# The desired state is ent/schema.sql, which `go generate ./ent` writes from
# the Ent schema plus what the accounts engine adds to it (the native enum
# type userrole, the expression index ux_users_username_lower). Regenerate
# it after changing ent/schema, before `atlas migrate diff`.
# For a removed enum value the Atlas planner writes an empty file (the type
# keeps the value) and it refuses a reorder; a renamed table needs a rename:
# write those with `accounts migrate diff` (docs/migrations.md, Enum changes).
#
# The dev database must be an empty scratch database: Atlas runs the schema
# file and replays migrations/ on it to compute changes (create it once with
# `createdb -h localhost -U postgres dev`, or point ATLAS_DEV_URL at another
# one). It is bound to the
# public schema so statements are written unqualified, as `accounts migrate
# diff` writes them.

env "local" {
  // Desired state: the generated SQL schema.
  src = "file://ent/schema.sql"

  // Scratch database.
  dev = getenv("ATLAS_DEV_URL") != "" ? getenv("ATLAS_DEV_URL") : "postgres://postgres:postgres@localhost:5432/dev?search_path=public&sslmode=disable"

  // The database to migrate: DATABASE_URL, else the one the service uses
  // without configuration (database.* defaults: database app on localhost).
  url = getenv("DATABASE_URL") != "" ? getenv("DATABASE_URL") : "postgres://postgres:postgres@localhost:5432/app?sslmode=disable"

  migration {
    dir = "file://migrations"
  }

  // The engine's policy (internal/migrate.onlineDiffPolicy): indexes on
  // tables that already exist are created and dropped CONCURRENTLY.
  diff {
    concurrent_index {
      create = true
      drop   = true
    }
  }

  // The content of a file `migrate diff` writes, shared with the engine:
  // the default format, plus `-- atlas:txmode none` on a file that cannot
  // run in a transaction (a CONCURRENTLY index, an enum value added and
  // used), so `atlas migrate apply` runs it as written.
  format {
    migrate {
      diff = file("internal/migrate/diff.tmpl")
    }
  }
}
