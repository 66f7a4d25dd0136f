-- The Go notary-server 0.7 schema (its PostgreSQL migrations 0001 and 0002), written so that
-- it also applies to a database the Go server already uses: existing tables, rows and
-- indexes are kept as they are.

CREATE TABLE IF NOT EXISTS "tuf_files" (
  "id" serial PRIMARY KEY,
  "created_at" timestamp NULL DEFAULT NULL,
  "updated_at" timestamp NULL DEFAULT NULL,
  "deleted_at" timestamp NULL DEFAULT NULL,
  "gun" varchar(255) NOT NULL,
  "role" varchar(255) NOT NULL,
  "version" integer NOT NULL,
  "data" bytea NOT NULL,
  "sha256" char(64) DEFAULT NULL,
  UNIQUE ("gun","role","version")
);

CREATE INDEX IF NOT EXISTS tuf_files_sha256_idx ON tuf_files(sha256);

CREATE TABLE IF NOT EXISTS "change_category" (
    "category" VARCHAR(20) PRIMARY KEY
);

INSERT INTO "change_category" VALUES ('update'), ('deletion') ON CONFLICT DO NOTHING;

-- A new changefeed is back-filled from the stored timestamps, as the Go migration does; an
-- existing one is left alone.
DO $$
BEGIN
  IF to_regclass('changefeed') IS NULL THEN
    CREATE TABLE "changefeed" (
        "id" serial PRIMARY KEY,
        "created_at" timestamp DEFAULT CURRENT_TIMESTAMP,
        "gun" varchar(255) NOT NULL,
        "version" integer NOT NULL,
        "sha256" CHAR(64) DEFAULT NULL,
        "category" VARCHAR(20) NOT NULL DEFAULT 'update' REFERENCES "change_category"
    );
    INSERT INTO "changefeed" ("created_at", "gun", "version", "sha256")
      SELECT "created_at", "gun", "version", "sha256"
      FROM "tuf_files"
      WHERE "role" = 'timestamp'
      ORDER BY "created_at" ASC;
  END IF;
END
$$;

CREATE INDEX IF NOT EXISTS "idx_changefeed_gun" ON "changefeed" ("gun");
