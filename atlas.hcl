# Atlas project file for users of the official Atlas binary. The accounts
# binary does the same without it (`accounts migrate diff|apply|...`); both
# read and write the same migrations/ directory (same atlas.sum) and the same
# revision table (atlas_schema_revisions), so either tool sees the other's
# work.
#
#   atlas migrate apply --env local
#   atlas migrate status --env local
#   atlas migrate diff --env local NAME
#
# Caveat for `migrate diff`: the Ent loader does not know what the accounts
# engine adds to the desired state (the native enum type userrole and the
# expression index ux_users_username_lower, see ent/schema/objects.go), so
# review what it writes; `accounts migrate diff NAME` is the reference. For a
# removed enum value the Atlas planner writes an empty file (the type keeps the
# value) and it refuses a reorder: write those with `accounts migrate diff`.
#
# The dev database must be an empty scratch database: Atlas replays
# migrations/ on it to compute changes (create it once with `createdb dev`).

env "local" {
  // Desired state: the Ent schema.
  src = "ent://ent/schema"

  // Scratch database, bound to the public schema so statements are written
  // unqualified, as `accounts migrate diff` writes them.
  dev = "postgres://postgres:postgres@localhost:5432/dev?search_path=public&sslmode=disable"

  // The database to migrate.
  url = getenv("DATABASE_URL")

  migration {
    dir = "file://migrations"
  }
}
