-- Create enum type "userrole"
CREATE TYPE "userrole" AS ENUM ('USER', 'ADMIN', 'SUPER_ADMIN');
-- Create "users" table
CREATE TABLE "users" ("id" uuid NOT NULL, "is_active" boolean NOT NULL DEFAULT true, "created_at" timestamptz NOT NULL DEFAULT now(), "updated_at" timestamptz NOT NULL DEFAULT now(), "username" character varying(32) NOT NULL, "password_hash" bytea NOT NULL, "role" "userrole" NOT NULL DEFAULT 'USER', PRIMARY KEY ("id"));
-- Create index "ix_users_created_at_id" to table: "users"
CREATE INDEX "ix_users_created_at_id" ON "users" ("created_at", "id");
-- Create index "ix_users_username" to table: "users"
CREATE UNIQUE INDEX "ix_users_username" ON "users" ("username");
-- Create index "ux_users_username_lower" to table: "users"
CREATE UNIQUE INDEX "ux_users_username_lower" ON "users" ((lower((username)::text)));
-- Create "auth_sessions" table
CREATE TABLE "auth_sessions" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL DEFAULT now(), "token_hash" bytea NOT NULL, "expires_at" timestamptz NOT NULL, "user_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "auth_sessions_users_sessions" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "auth_sessions_token_hash_key" to table: "auth_sessions"
CREATE UNIQUE INDEX "auth_sessions_token_hash_key" ON "auth_sessions" ("token_hash");
-- Create index "ix_auth_sessions_expires_at" to table: "auth_sessions"
CREATE INDEX "ix_auth_sessions_expires_at" ON "auth_sessions" ("expires_at");
-- Create index "ix_auth_sessions_user_id" to table: "auth_sessions"
CREATE INDEX "ix_auth_sessions_user_id" ON "auth_sessions" ("user_id");
