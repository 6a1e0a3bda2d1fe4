-- Modify "users" table
ALTER TABLE "users" ADD COLUMN "credential_version" bigint NOT NULL DEFAULT 0;
-- Create "throttle_counters" table
CREATE TABLE "throttle_counters" ("id" character varying(64) NOT NULL, "window_start" timestamptz NOT NULL, "hits" bigint NOT NULL, PRIMARY KEY ("id"));
-- Create index "ix_throttle_counters_window_start" to table: "throttle_counters"
CREATE INDEX "ix_throttle_counters_window_start" ON "throttle_counters" ("window_start");
