INSERT INTO "config_version" ("id", "version") VALUES (1, 0) ON CONFLICT ("id") DO NOTHING;
