-- Create enum type "kind"
CREATE TYPE "kind" AS ENUM ('A', 'B');
-- Create "items" table
CREATE TABLE "items" ("id" bigint NOT NULL, "name" character varying(32) NOT NULL, "kind" "kind" NOT NULL DEFAULT 'A', "qty" bigint NOT NULL DEFAULT 0, "created_at" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("id"));
-- Create "events" table
CREATE TABLE "events" ("id" bigint NOT NULL, "action" character varying NOT NULL, "item_id" bigint NULL, PRIMARY KEY ("id"), CONSTRAINT "events_item_fk" FOREIGN KEY ("item_id") REFERENCES "items" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
