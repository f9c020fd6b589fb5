//! The schema migrations of both backends, embedded in the binary and applied on open.
//!
//! Each backend has its own ordered list of SQL steps (the dialects differ), numbered from 1;
//! the version reached is kept in the one-row `meta` table. A backend applies every pending
//! step and the new version in one transaction, so a crash mid-migration leaves the old
//! schema. A database whose version is higher than the last step this build knows was
//! written by a newer Stratus and is refused ([`StoreError::TooNew`]) rather than guessed at.

use crate::StoreError;

/// One schema step: its number and its SQL (several statements).
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[Migration {
    version: 1,
    sql: include_str!("migrations/sqlite/0001_init.sql"),
}];

pub(crate) const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    sql: include_str!("migrations/postgres/0001_init.sql"),
}];

/// Created before the steps run (in the same transaction) so the version can be read first.
pub(crate) const META_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS meta (schema_version BIGINT NOT NULL)";

/// The version the last step of `migrations` reaches.
pub(crate) fn latest(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |migration| migration.version)
}

/// The steps still to apply to a database at version `found`.
pub(crate) fn pending(migrations: &[Migration], found: i64) -> Result<&[Migration], StoreError> {
    let known = latest(migrations);
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    let applied = migrations
        .iter()
        .take_while(|migration| migration.version <= found)
        .count();
    Ok(&migrations[applied..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one() {
        for migrations in [SQLITE, POSTGRES] {
            for (index, migration) in migrations.iter().enumerate() {
                assert_eq!(migration.version, index as i64 + 1);
                assert!(!migration.sql.trim().is_empty());
            }
        }
        assert_eq!(
            latest(SQLITE),
            latest(POSTGRES),
            "backends must move in step"
        );
    }

    #[test]
    fn pending_steps_and_too_new() {
        assert_eq!(pending(SQLITE, 0).map(<[_]>::len).ok(), Some(SQLITE.len()));
        assert_eq!(
            pending(SQLITE, latest(SQLITE)).map(<[_]>::len).ok(),
            Some(0)
        );
        let known = latest(SQLITE);
        assert!(matches!(
            pending(SQLITE, known + 1),
            Err(StoreError::TooNew { found, known: k }) if found == known + 1 && k == known
        ));
    }
}
