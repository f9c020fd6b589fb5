-- Records: `seq` is an explicit rowid alias so that insertion order survives VACUUM (SQLite may
-- renumber implicit rowids); an UPDATE keeps it, so a Put keeps a record's place.
CREATE TABLE records (
    seq     INTEGER PRIMARY KEY,
    kind    TEXT    NOT NULL,
    tenant  TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT    NOT NULL,
    UNIQUE (kind, tenant, id)
);
CREATE INDEX records_kind_seq ON records (kind, seq);

-- Events: AUTOINCREMENT so that an id is never reused, even after DeleteEvents.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant        TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    execution_id  TEXT NOT NULL,
    timestamp     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX events_tenant_deployment ON events (tenant, deployment_id);
CREATE INDEX events_execution ON events (execution_id);
CREATE INDEX events_timestamp ON events (timestamp);

CREATE TABLE blobs (
    key   TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
);
