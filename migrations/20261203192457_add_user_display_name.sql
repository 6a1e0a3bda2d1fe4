-- Modify "users" table
ALTER TABLE "users" ADD COLUMN "display_name" character varying(64) NULL;
