//! What runs on the PostgreSQL server: the plugin's statements, built as data (so they can
//! be checked without a server) and run over the sync `postgres` client.
//!
//! The plugin formatted names into SQL raw; here every identifier is quoted (so a name means
//! exactly itself, case included) and every password is a quoted literal inside its
//! statement (utility statements take no bind parameters) whose `shown` form, the only one
//! that reaches a message, has `***` in its place.

use std::net::ToSocketAddrs;
use std::time::Duration;

use postgres::error::SqlState;

use crate::Error;

/// Where and as whom to connect.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.describe())
    }
}

impl Endpoint {
    /// `user@host:port/database`, no password.
    pub fn describe(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}@{host}:{}/{}", self.user, self.port, self.database)
    }
}

/// `"name"`, with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A string literal: `'text'` with quotes doubled, or `E'…'` with backslashes doubled too
/// when it holds one (right whatever `standard_conforming_strings` says).
pub fn quote_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// One statement and how it may be shown (the same text unless it holds a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub shown: String,
}

impl Statement {
    fn plain(sql: String) -> Statement {
        Statement {
            shown: sql.clone(),
            sql,
        }
    }

    /// `CREATE USER`/`ALTER USER` `role` with `password`.
    fn with_password(verb: &str, role: &str, password: &str) -> Statement {
        let head = format!("{verb} USER {} WITH PASSWORD", quote_ident(role));
        Statement {
            sql: format!("{head} {}", quote_literal(password)),
            shown: format!("{head} ***"),
        }
    }
}

/// The roles, database and schema of one pgaas database, named as the plugin named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub database: String,
    pub admin: String,
    pub user: String,
    pub viewer: String,
    pub common_user_role: String,
    pub common_viewer_role: String,
    pub schema: String,
}

impl Names {
    /// For a database name that passed `names::check_dbname`.
    pub fn of(database: &str) -> Names {
        Names {
            database: database.to_string(),
            admin: format!("{database}_admin"),
            user: format!("{database}_user"),
            viewer: format!("{database}_viewer"),
            common_user_role: format!("{database}_common_user_role"),
            common_viewer_role: format!("{database}_common_viewer_role"),
            schema: format!("{database}_db_common"),
        }
    }
}

/// The login roles' passwords.
pub struct Passwords<'a> {
    pub admin: &'a str,
    pub user: &'a str,
    pub viewer: &'a str,
}

/// On the `postgres` database: the users, group roles and database that do not exist yet
/// (existing ones are adopted as they are, as the plugin did).
pub fn create_statements(
    names: &Names,
    passwords: &Passwords<'_>,
    existing_roles: &[String],
    existing_databases: &[String],
) -> Vec<Statement> {
    let exists = |role: &str| existing_roles.iter().any(|r| r == role);
    let mut statements = Vec::new();
    for (role, password) in [
        (&names.admin, passwords.admin),
        (&names.user, passwords.user),
        (&names.viewer, passwords.viewer),
    ] {
        if !exists(role) {
            statements.push(Statement::with_password("CREATE", role, password));
        }
    }
    for role in [&names.common_user_role, &names.common_viewer_role] {
        if !exists(role) {
            statements.push(Statement::plain(format!(
                "CREATE ROLE {}",
                quote_ident(role)
            )));
        }
    }
    if !existing_databases.contains(&names.database) {
        statements.push(Statement::plain(format!(
            "CREATE DATABASE {} WITH OWNER {}",
            quote_ident(&names.database),
            quote_ident(&names.admin)
        )));
    }
    statements
}

/// On the new database: privileges, the common schema, search paths and default privileges
/// (all idempotent).
pub fn grant_statements(names: &Names) -> Vec<Statement> {
    let q = quote_ident;
    let (db, admin, user, viewer) = (
        q(&names.database),
        q(&names.admin),
        q(&names.user),
        q(&names.viewer),
    );
    let (common_user, common_viewer, schema) = (
        q(&names.common_user_role),
        q(&names.common_viewer_role),
        q(&names.schema),
    );
    let mut sql = Vec::new();
    for role in [&common_user, &common_viewer, &user, &viewer] {
        sql.push(format!("REVOKE ALL ON DATABASE {db} FROM {role}"));
    }
    sql.push(format!("GRANT {common_viewer} TO {common_user}"));
    sql.push(format!("GRANT {common_user} TO {admin}"));
    sql.push(format!("GRANT CONNECT ON DATABASE {db} TO {common_viewer}"));
    sql.push(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {admin}"
    ));
    for role in [&admin, &common_user, &common_viewer, &user, &viewer] {
        sql.push(format!(
            "ALTER ROLE {role} IN DATABASE {db} SET search_path = public, {schema}"
        ));
    }
    sql.push(format!("GRANT USAGE ON SCHEMA {schema} TO {common_viewer}"));
    sql.push(format!("GRANT CREATE ON SCHEMA {schema} TO {admin}"));
    sql.push(format!(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {admin} GRANT SELECT ON TABLES TO {common_viewer}"
    ));
    sql.push(format!("ALTER DEFAULT PRIVILEGES FOR ROLE {admin} GRANT INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO {common_user}"));
    sql.push(format!("ALTER DEFAULT PRIVILEGES FOR ROLE {admin} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {common_user}"));
    sql.push(format!("GRANT TEMP ON DATABASE {db} TO {common_user}"));
    sql.push(format!("GRANT {common_user} TO {user}"));
    sql.push(format!("GRANT {common_viewer} TO {viewer}"));
    sql.into_iter().map(Statement::plain).collect()
}

/// On the `postgres` database: the database, then its roles, if they exist.
pub fn drop_statements(names: &Names) -> Vec<Statement> {
    let mut sql = vec![format!(
        "DROP DATABASE IF EXISTS {}",
        quote_ident(&names.database)
    )];
    for role in [
        &names.user,
        &names.viewer,
        &names.admin,
        &names.common_user_role,
        &names.common_viewer_role,
    ] {
        sql.push(format!("DROP ROLE IF EXISTS {}", quote_ident(role)));
    }
    sql.into_iter().map(Statement::plain).collect()
}

/// `ALTER USER postgres WITH PASSWORD ***`.
pub fn set_postgres_password(password: &str) -> Statement {
    Statement::with_password("ALTER", "postgres", password)
}

/// The plugin's `waithp`: a TCP connection to `host:port`, else a recoverable failure.
pub fn wait_for(host: &str, port: u16, timeout: Duration) -> Result<(), Error> {
    let not_ready =
        |why: String| Error::NotReady(format!("Server at {host}:{port} is not ready: {why}"));
    let addresses = (host, port)
        .to_socket_addrs()
        .map_err(|e| not_ready(e.to_string()))?;
    let mut last = String::from("no address");
    for address in addresses {
        match std::net::TcpStream::connect_timeout(&address, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(not_ready(last))
}

/// One connection to the server (autocommit: each statement on its own).
pub struct Session {
    client: postgres::Client,
}

/// Errors of a passing kind: worth retrying.
fn passing(code: &SqlState) -> bool {
    [
        SqlState::OBJECT_IN_USE,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::LOCK_NOT_AVAILABLE,
    ]
    .contains(code)
}

fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

impl Session {
    /// Connects; any failure (refused, timed out, authentication) is recoverable, as the
    /// plugin's psycopg2 exceptions were.
    pub fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<Session, Error> {
        let mut config = postgres::Config::new();
        config
            .host(&endpoint.host)
            .port(endpoint.port)
            .user(&endpoint.user)
            .password(&endpoint.password)
            .dbname(&endpoint.database)
            .application_name("stratus-pgaas")
            .connect_timeout(timeout);
        config
            .connect(postgres::NoTls)
            .map(|client| Session { client })
            .map_err(|e| {
                Error::NotReady(format!(
                    "connect to PostgreSQL as {}: {}",
                    endpoint.describe(),
                    describe(&e)
                ))
            })
    }

    fn failed(statement: &str, error: &postgres::Error) -> Error {
        Error::Sql {
            statement: statement.to_string(),
            message: describe(error),
            retry: error.as_db_error().is_none_or(|db| passing(db.code())),
        }
    }

    pub fn run(&mut self, statement: &Statement) -> Result<(), Error> {
        self.client
            .batch_execute(&statement.sql)
            .map_err(|e| Session::failed(&statement.shown, &e))
    }

    /// The first column of a query's rows, as text.
    pub fn column(&mut self, query: &str) -> Result<Vec<String>, Error> {
        let rows = self
            .client
            .query(query, &[])
            .map_err(|e| Session::failed(query, &e))?;
        rows.iter()
            .map(|row| {
                row.try_get::<_, String>(0)
                    .map_err(|e| Session::failed(query, &e))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("holmes_admin"), "\"holmes_admin\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("0a1b"), "'0a1b'");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\'b"), "E'a\\\\''b'");
    }

    #[test]
    fn passwords_are_never_shown() {
        let names = Names::of("Holmes");
        let passwords = Passwords {
            admin: "pw-admin",
            user: "pw-user",
            viewer: "pw-viewer",
        };
        let statements = create_statements(&names, &passwords, &[], &[]);
        let shown: Vec<&str> = statements.iter().map(|s| s.shown.as_str()).collect();
        assert_eq!(
            shown,
            [
                "CREATE USER \"Holmes_admin\" WITH PASSWORD ***",
                "CREATE USER \"Holmes_user\" WITH PASSWORD ***",
                "CREATE USER \"Holmes_viewer\" WITH PASSWORD ***",
                "CREATE ROLE \"Holmes_common_user_role\"",
                "CREATE ROLE \"Holmes_common_viewer_role\"",
                "CREATE DATABASE \"Holmes\" WITH OWNER \"Holmes_admin\"",
            ]
        );
        assert_eq!(
            statements[0].sql,
            "CREATE USER \"Holmes_admin\" WITH PASSWORD 'pw-admin'"
        );
        let altered = set_postgres_password("secret");
        assert!(!altered.shown.contains("secret"));
        assert!(altered.sql.ends_with("'secret'"));
    }

    #[test]
    fn existing_roles_and_database_are_adopted() {
        let names = Names::of("holmes");
        let passwords = Passwords {
            admin: "a",
            user: "u",
            viewer: "v",
        };
        let roles: Vec<String> = ["holmes_admin", "holmes_common_user_role", "postgres"]
            .map(String::from)
            .to_vec();
        let statements = create_statements(&names, &passwords, &roles, &["holmes".to_string()]);
        let shown: Vec<&str> = statements.iter().map(|s| s.shown.as_str()).collect();
        assert_eq!(
            shown,
            [
                "CREATE USER \"holmes_user\" WITH PASSWORD ***",
                "CREATE USER \"holmes_viewer\" WITH PASSWORD ***",
                "CREATE ROLE \"holmes_common_viewer_role\"",
            ]
        );
        let grants = grant_statements(&names);
        assert_eq!(grants.len(), 21);
        assert!(grants
            .iter()
            .all(|s| s.sql == s.shown && !s.sql.contains(" holmes_")));
        assert_eq!(
            drop_statements(&names)[0].sql,
            "DROP DATABASE IF EXISTS \"holmes\""
        );
    }
}
