-- Scheduled jobs run once per period across worker replicas: a replica claims (job, period)
-- here before running it. A claim whose holder died (started long ago, never finished) can
-- be taken over. Not tenant data: no row-level security; the runtime role claims and
-- finishes, nothing else.

-- +goose Up
CREATE TABLE tenantry.job_runs (
    job         text        NOT NULL,
    period      timestamptz NOT NULL,
    holder      text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (job, period)
);
GRANT SELECT, INSERT, UPDATE ON tenantry.job_runs TO tenantry_app;

-- +goose Down
DROP TABLE tenantry.job_runs;
