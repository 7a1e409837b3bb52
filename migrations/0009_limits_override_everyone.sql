-- SPEC §9.1, §9.3: limits gain `override` (user limits only) and the `everyone` subject
-- (subject id '*'). Existing rows carry forward as plain merged limits (override false).
ALTER TABLE "limits" ADD COLUMN "override" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "limits" ADD CONSTRAINT "limits_override_user" CHECK (not "limits"."override" or "limits"."subject_type" = 'user');--> statement-breakpoint
ALTER TABLE "limits" ADD CONSTRAINT "limits_everyone_subject" CHECK ("limits"."subject_type" <> 'everyone' or "limits"."subject_id" = '*');