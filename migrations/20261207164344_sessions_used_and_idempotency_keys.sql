-- Modify "auth_sessions" table
ALTER TABLE "auth_sessions" ADD COLUMN "last_used_at" timestamptz NOT NULL DEFAULT now(), ADD COLUMN "user_agent" character varying NOT NULL DEFAULT '';
-- Create "idempotency_keys" table
CREATE TABLE "idempotency_keys" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL DEFAULT now(), "scope" character varying NOT NULL, "key" character varying NOT NULL, "fingerprint" bytea NOT NULL, "status" bigint NOT NULL, "header" jsonb NOT NULL, "body" bytea NOT NULL, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "ix_idempotency_keys_expires_at" to table: "idempotency_keys"
CREATE INDEX "ix_idempotency_keys_expires_at" ON "idempotency_keys" ("expires_at");
-- Create index "ux_idempotency_keys_scope_key" to table: "idempotency_keys"
CREATE UNIQUE INDEX "ux_idempotency_keys_scope_key" ON "idempotency_keys" ("scope", "key");
