-- Records: body is TEXT, not JSONB, so that a body reads back exactly as written (JSONB
-- reorders keys). `seq` keeps insertion order; an UPDATE keeps it, so a Put keeps a record's
-- place.
CREATE TABLE records (
    seq     BIGSERIAL PRIMARY KEY,
    kind    TEXT   NOT NULL,
    tenant  TEXT   NOT NULL,
    id      TEXT   NOT NULL,
    version BIGINT NOT NULL,
    body    TEXT   NOT NULL,
    UNIQUE (kind, tenant, id)
);
CREATE INDEX records_kind_seq ON records (kind, seq);

-- Events: timestamps compare as bytes (COLLATE "C"), as they do in SQLite.
CREATE TABLE events (
    id            BIGSERIAL PRIMARY KEY,
    tenant        TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    execution_id  TEXT NOT NULL,
    timestamp     TEXT COLLATE "C" NOT NULL,
    kind          TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX events_tenant_deployment ON events (tenant, deployment_id);
CREATE INDEX events_execution ON events (execution_id);
CREATE INDEX events_timestamp ON events (timestamp);

CREATE TABLE blobs (
    key   TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL
);
