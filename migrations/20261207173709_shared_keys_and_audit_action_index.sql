-- atlas:txmode none

-- Create index "ix_audit_events_action" to table: "audit_events"
CREATE INDEX CONCURRENTLY "ix_audit_events_action" ON "audit_events" ("action", "occurred_at", "id");
-- Create "shared_keys" table
CREATE TABLE "shared_keys" ("id" character varying(64) NOT NULL, "created_at" timestamptz NOT NULL DEFAULT now(), "key" bytea NOT NULL, PRIMARY KEY ("id"));
