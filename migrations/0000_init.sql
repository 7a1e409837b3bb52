CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" text,
	"before" jsonb,
	"after" jsonb,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "boosts" (
	"id" serial PRIMARY KEY NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"model_group_id" integer,
	"metric" text NOT NULL,
	"window" text,
	"slot" text NOT NULL,
	"amount" bigint NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "boosts_amount_positive" CHECK ("boosts"."amount" > 0),
	CONSTRAINT "boosts_period" CHECK ("boosts"."expires_at" > "boosts"."starts_at")
);
--> statement-breakpoint
CREATE TABLE "config_version" (
	"id" integer PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dirty_subjects" (
	"subject" text PRIMARY KEY NOT NULL,
	"marked_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "first_use_windows" (
	"bucket_key" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"length_ms" bigint NOT NULL,
	CONSTRAINT "first_use_windows_bucket_key_started_at_pk" PRIMARY KEY("bucket_key","started_at")
);
--> statement-breakpoint
CREATE TABLE "limits" (
	"id" serial PRIMARY KEY NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"model_group_id" integer,
	"metric" text NOT NULL,
	"window" text,
	"slot" text NOT NULL,
	"reset" text,
	"anchor" timestamp with time zone,
	"timezone" text,
	"reset_time" text,
	"cap" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "limits_natural_key" UNIQUE NULLS NOT DISTINCT("subject_type","subject_id","model_group_id","metric","slot"),
	CONSTRAINT "limits_cap_nonnegative" CHECK ("limits"."cap" >= 0)
);
--> statement-breakpoint
CREATE TABLE "model_group_members" (
	"model" text PRIMARY KEY NOT NULL,
	"model_group_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "model_groups" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "model_groups_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "reset_markers" (
	"id" serial PRIMARY KEY NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"model_group_id" integer,
	"metric" text NOT NULL,
	"window" text,
	"slot" text NOT NULL,
	"reset_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "session_admissions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"bucket_key" text NOT NULL,
	"owner_type" text NOT NULL,
	"owner_id" text NOT NULL,
	"session_id" text NOT NULL,
	"request_id" text,
	"admitted_at" timestamp with time zone NOT NULL,
	"active_until" timestamp with time zone NOT NULL,
	CONSTRAINT "session_admissions_once" UNIQUE("bucket_key","session_id","admitted_at")
);
--> statement-breakpoint
CREATE TABLE "usage_ledger" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"request_id" text NOT NULL,
	"user_id" text NOT NULL,
	"key_id" text,
	"model" text NOT NULL,
	"model_group_id" integer,
	"cost_micros" bigint NOT NULL,
	"counted_in_user_global" boolean NOT NULL,
	"counted_in_key_global" boolean NOT NULL,
	"buckets" jsonb NOT NULL,
	"status" text DEFAULT 'settled' NOT NULL,
	"reserved_at" timestamp with time zone,
	"settled_at" timestamp with time zone NOT NULL,
	"metadata" jsonb,
	CONSTRAINT "usage_ledger_request_id_unique" UNIQUE("request_id"),
	CONSTRAINT "usage_ledger_cost_nonnegative" CHECK ("usage_ledger"."cost_micros" >= 0),
	CONSTRAINT "usage_ledger_status" CHECK ("usage_ledger"."status" in ('settled', 'released'))
);
--> statement-breakpoint
CREATE TABLE "user_group_members" (
	"user_group_id" integer NOT NULL,
	"user_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_group_members_user_group_id_user_id_pk" PRIMARY KEY("user_group_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "user_groups" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_groups_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "boosts" ADD CONSTRAINT "boosts_model_group_id_model_groups_id_fk" FOREIGN KEY ("model_group_id") REFERENCES "public"."model_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "limits" ADD CONSTRAINT "limits_model_group_id_model_groups_id_fk" FOREIGN KEY ("model_group_id") REFERENCES "public"."model_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_group_members" ADD CONSTRAINT "model_group_members_model_group_id_model_groups_id_fk" FOREIGN KEY ("model_group_id") REFERENCES "public"."model_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reset_markers" ADD CONSTRAINT "reset_markers_model_group_id_model_groups_id_fk" FOREIGN KEY ("model_group_id") REFERENCES "public"."model_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_group_members" ADD CONSTRAINT "user_group_members_user_group_id_user_groups_id_fk" FOREIGN KEY ("user_group_id") REFERENCES "public"."user_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "boosts_subject_idx" ON "boosts" USING btree ("subject_type","subject_id");--> statement-breakpoint
CREATE INDEX "boosts_expires_idx" ON "boosts" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "limits_subject_idx" ON "limits" USING btree ("subject_type","subject_id");--> statement-breakpoint
CREATE INDEX "model_group_members_group_idx" ON "model_group_members" USING btree ("model_group_id");--> statement-breakpoint
CREATE INDEX "reset_markers_subject_idx" ON "reset_markers" USING btree ("subject_type","subject_id");--> statement-breakpoint
CREATE INDEX "session_admissions_owner_time_idx" ON "session_admissions" USING btree ("owner_type","owner_id","admitted_at");--> statement-breakpoint
CREATE INDEX "session_admissions_bucket_time_idx" ON "session_admissions" USING btree ("bucket_key","admitted_at");--> statement-breakpoint
CREATE INDEX "usage_ledger_user_time_idx" ON "usage_ledger" USING btree ("user_id","settled_at");--> statement-breakpoint
CREATE INDEX "usage_ledger_key_time_idx" ON "usage_ledger" USING btree ("key_id","settled_at");--> statement-breakpoint
CREATE INDEX "usage_ledger_buckets_idx" ON "usage_ledger" USING gin ("buckets" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "user_group_members_user_idx" ON "user_group_members" USING btree ("user_id");