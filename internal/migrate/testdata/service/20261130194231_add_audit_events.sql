-- Create "audit_events" table
CREATE TABLE "audit_events" ("id" uuid NOT NULL, "occurred_at" timestamptz NOT NULL DEFAULT now(), "action" character varying(40) NOT NULL, "actor_id" uuid NULL, "actor_name" character varying(160) NOT NULL, "target_id" uuid NULL, "target_name" character varying(32) NOT NULL, "request_id" character varying(128) NOT NULL DEFAULT '', "client_address" character varying(64) NOT NULL DEFAULT '', "details" jsonb NULL, PRIMARY KEY ("id"));
-- Create index "ix_audit_events_actor_id" to table: "audit_events"
CREATE INDEX "ix_audit_events_actor_id" ON "audit_events" ("actor_id", "occurred_at");
-- Create index "ix_audit_events_occurred_at_id" to table: "audit_events"
CREATE INDEX "ix_audit_events_occurred_at_id" ON "audit_events" ("occurred_at", "id");
-- Create index "ix_audit_events_target_id" to table: "audit_events"
CREATE INDEX "ix_audit_events_target_id" ON "audit_events" ("target_id", "occurred_at");
