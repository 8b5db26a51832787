use crate::StoreError;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::query_dsl::methods::ExecuteDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// A connection to either backend. The backend is chosen by the URL scheme in [`Db::connect`],
/// never by trying one after the other (which would hide PostgreSQL errors behind a SQLite file).
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend a URL names: `postgres://` or `postgresql://` is PostgreSQL, anything else a
    /// SQLite file (`sqlite://` prefix optional).
    pub fn of_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgresql",
            Self::Sqlite => "sqlite",
        }
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections in the pool (PostgreSQL) or readers (SQLite, which has one extra writer).
    pub max_connections: u32,
    /// How long a request waits for a connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

// SQLite: `busy_timeout` first so that switching to WAL waits for other connections; WAL so that
// readers never block the writer; `synchronous=FULL` because an acknowledged donation must survive
// a power cut; foreign keys are off by default in SQLite.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

// The SQLite writer's page cache: 32 MiB instead of the default 2 MiB, so that the index pages
// every write touches (a fund's chain, its accounts, the postings' and keys' indexes) stay in
// the cache when the database is large. Readers keep the default: an export or a verification
// reads the whole ledger once and would only fill a large cache with pages used once.
const SQLITE_WRITER_PRAGMAS: &str = "PRAGMA cache_size = -32768;";

struct Manager {
    backend: Backend,
    url: String,
    /// The SQLite writer's connection (see [`SQLITE_WRITER_PRAGMAS`]).
    writer: bool,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match self.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.url).map(DbConnection::Pg),
            Backend::Sqlite => {
                let mut c = diesel::SqliteConnection::establish(&self.url)?;
                c.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                if self.writer {
                    c.batch_execute(SQLITE_WRITER_PRAGMAS)
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                }
                Ok(DbConnection::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

type Pool = r2d2::Pool<Manager>;

/// The database: a pool of connections and, for SQLite, a separate pool of exactly one writer,
/// so that writes queue in the process instead of failing with "database is locked".
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    pool: Pool,
    writer: Option<Pool>,
    display_url: String,
}

/// A pooled reader connection checked out by [`Db::try_spare`].
pub struct Spare(r2d2::PooledConnection<Manager>);

impl Spare {
    /// [`Db::read_snapshot`] on this connection.
    pub fn read_snapshot<T>(
        mut self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        in_snapshot(&mut self.0, f)
    }
}

/// Runs `f` in a read-only snapshot transaction on `conn` (see [`Db::read_snapshot`]).
fn in_snapshot<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Pg(inner) => AnsiTransactionManager::begin_transaction_sql(
            inner,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )?,
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN DEFERRED")?
        }
    }
    let result = f(conn);
    match &result {
        Ok(_) => Manager::commit_transaction(conn)?,
        Err(_) => Manager::rollback_transaction(conn)?,
    }
    result
}

/// The URL with any password replaced by `***`, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                url.to_owned()
            }
        }
        None => url.to_owned(),
    }
}

impl Db {
    /// Connects, checking one connection first so that the real error (authentication, unknown
    /// host, unwritable file) is reported rather than a pool timeout.
    pub fn connect(url: &str, options: &DbOptions) -> Result<Self, StoreError> {
        use r2d2::ManageConnection;
        let backend = Backend::of_url(url);
        let display_url = redact_url(url);
        let path = match backend {
            Backend::Postgres => url.to_owned(),
            Backend::Sqlite => url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url)
                .to_owned(),
        };
        // An unreachable PostgreSQL host must fail within seconds, not after the kernel's TCP
        // timeout.
        let path = if backend == Backend::Postgres && !path.contains("connect_timeout") {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}connect_timeout=5")
        } else {
            path
        };
        let manager = Manager {
            backend,
            url: path.clone(),
            writer: false,
        };
        // libpq's messages span several lines; the start-up error is one line.
        manager.connect().map_err(|e| {
            let message = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            StoreError::Unavailable(format!("cannot connect to {display_url}: {message}"))
        })?;
        let build = |size: u32, writer: bool| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                .connection_timeout(options.acquire_timeout)
                .test_on_check_out(false)
                .build(Manager {
                    backend,
                    url: path.clone(),
                    writer,
                })
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot connect to {display_url}: {e}"))
                })
        };
        let pool = build(options.max_connections.max(1), false)?;
        let writer = match backend {
            Backend::Sqlite => Some(build(1, true)?),
            Backend::Postgres => None,
        };
        Ok(Self {
            backend,
            pool,
            writer,
            display_url,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL without its password.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    fn get(&self, pool: &Pool) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        pool.get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Runs read-only work on a pooled connection.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.get(&self.pool)?;
        f(&mut conn)
    }

    /// Runs read-only work on one consistent snapshot of the database (REPEATABLE READ on
    /// PostgreSQL, a read transaction on SQLite), for reads that must not see a half of
    /// concurrent writes (chain verification, exports).
    pub fn read_snapshot<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.get(&self.pool)?;
        in_snapshot(&mut conn, f)
    }

    /// A second reader connection for work that runs beside the caller's, if the pool has one
    /// free right now (never waits: a caller that already holds a connection must not wait for
    /// another, or a busy pool would deadlock).
    pub fn try_spare(&self) -> Option<Spare> {
        self.pool.try_get().map(Spare)
    }

    /// Runs `f` in one transaction on the writer, retrying a bounded number of times when
    /// PostgreSQL reports a serialization failure or a deadlock. `f` may run more than once, so
    /// it must not have effects outside the transaction.
    pub fn write<T>(
        &self,
        mut f: impl FnMut(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        const ATTEMPTS: u32 = 8;
        let pool = self.writer.as_ref().unwrap_or(&self.pool);
        let mut conn = self.get(pool)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match transaction(&mut conn, &mut f) {
                Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                    tracing::debug!(db.attempt = attempt, "retrying transaction: {e}");
                    std::thread::sleep(Duration::from_millis(u64::from(attempt) * 2));
                }
                other => return other,
            }
        }
    }

    /// Copies a SQLite database, while it serves, into a new file `to` (`VACUUM INTO`: one
    /// consistent snapshot, compacted). PostgreSQL is backed up with `pg_dump` instead.
    pub fn backup(&self, to: &std::path::Path) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            return Err(StoreError::Invalid(domain::Invalid::new(
                "backend",
                "back up PostgreSQL with pg_dump (see README, Backup and restore)",
            )));
        }
        if to.exists() {
            return Err(StoreError::Invalid(domain::Invalid::new(
                "to",
                format!("{} exists; choose a new file", to.display()),
            )));
        }
        let path = to
            .to_str()
            .ok_or_else(|| StoreError::Invalid(domain::Invalid::new("to", "not a UTF-8 path")))?;
        self.read(|c| {
            c.batch_execute(&format!("VACUUM INTO '{}'", path.replace('\'', "''")))?;
            Ok(())
        })
    }

    /// Applies every pending migration.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        let pool = self.writer.as_ref().unwrap_or(&self.pool);
        let mut conn = self.get(pool)?;
        let applied = match &mut *conn {
            DbConnection::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        };
        applied.map_err(|e| StoreError::Internal(format!("migration failed: {e}")))
    }

    /// Whether the database answers and has every migration applied (for `/readyz`).
    pub fn ready(&self) -> Result<bool, StoreError> {
        self.read(|conn| {
            let pending = match conn {
                DbConnection::Pg(c) => c.has_pending_migration(PG_MIGRATIONS),
                DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
            };
            pending
                .map(|p| !p)
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        })
    }
}

/// Runs `f` in a transaction. On SQLite the transaction starts with `BEGIN IMMEDIATE`, taking the
/// write lock at once (waiting up to `busy_timeout`), so that a read-then-write transaction can
/// never fail half way because another process (a CLI command) wrote in between.
fn transaction<T>(
    conn: &mut DbConnection,
    f: &mut impl FnMut(&mut DbConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Pg(_) => conn.transaction(|c| f(c)),
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok(value) => {
                    Manager::commit_transaction(conn)?;
                    Ok(value)
                }
                Err(e) => {
                    Manager::rollback_transaction(conn)?;
                    Err(e)
                }
            }
        }
    }
}

/// Runs two writes (inserts, updates) as one statement on PostgreSQL, the first as a `WITH`
/// clause of the second: one round trip instead of two. Both run to completion, and their
/// constraints (a foreign key from one to the other included) are checked when the statement
/// ends, so their order does not matter. SQLite runs in process: one after the other.
///
/// `cache`: the statement's SQL takes few shapes (no batch of a caller-chosen number of rows),
/// so PostgreSQL keeps it prepared on the connection (see [`Cached`]).
pub(crate) fn execute_together<A, B>(
    conn: &mut DbConnection,
    first: A,
    second: B,
    cache: bool,
) -> QueryResult<()>
where
    A: QueryFragment<diesel::pg::Pg> + ExecuteDsl<diesel::SqliteConnection>,
    B: QueryFragment<diesel::pg::Pg> + ExecuteDsl<diesel::SqliteConnection>,
{
    match conn {
        DbConnection::Pg(c) => {
            Cached {
                query: Together(first, second),
                cache,
            }
            .get_result::<i32>(c)?;
        }
        DbConnection::Sqlite(c) => {
            ExecuteDsl::execute(first, c)?;
            ExecuteDsl::execute(second, c)?;
        }
    }
    Ok(())
}

/// `WITH w0 AS (first), w1 AS (second) SELECT 1`, for [`execute_together`]: a query (one row),
/// so that it can be [`Cached`].
struct Together<A, B>(A, B);

impl<A, B> QueryId for Together<A, B> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<A, B> QueryFragment<diesel::pg::Pg> for Together<A, B>
where
    A: QueryFragment<diesel::pg::Pg>,
    B: QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql("WITH w0 AS (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql("), w1 AS (");
        self.1.walk_ast(out.reborrow())?;
        out.push_sql(") SELECT 1");
        Ok(())
    }
}

impl<A, B> diesel::query_builder::Query for Together<A, B> {
    type SqlType = diesel::sql_types::Integer;
}

impl<A, B, C> RunQueryDsl<C> for Together<A, B> {}

/// A statement kept prepared on its connection (diesel's statement cache, keyed by the SQL
/// text) when `cache` is true. diesel prepares its inserts, updates, upserts, raw SQL, boxed
/// queries and SQLite's `IN` lists anew on every call (on PostgreSQL: sent unnamed, parsed and
/// planned each time), since their SQL may vary without bound in general; mark only statements
/// whose SQL takes few shapes (a fixed text, one row, a fixed set of filters), and pass
/// `cache: false` for a batch of a caller-chosen size. Run it with `get_result` or `load`:
/// diesel asks the statement it is given by value whether it may be cached, and `execute`
/// hands it a reference, which answers for the inner statement. A donation's write statements
/// prepared: pgbench ran them at 708-724 donations/s against 407-499/s unnamed
/// (docs/PERFORMANCE.md). It overrides `QueryFragment::is_safe_to_cache_prepared`, a method
/// diesel documents only for backend implementers: `Cargo.lock` pins diesel, and a diesel
/// upgrade must check that PostgreSQL's statement log still shows these statements named.
pub(crate) struct Cached<Q> {
    pub(crate) query: Q,
    pub(crate) cache: bool,
}

/// `query`, kept prepared ([`Cached`]).
pub(crate) fn cached<Q>(query: Q) -> Cached<Q> {
    Cached { query, cache: true }
}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> QueryFragment<DB> for Cached<Q>
where
    DB: diesel::backend::Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out)
    }

    fn is_safe_to_cache_prepared(&self, backend: &DB) -> QueryResult<bool> {
        if self.cache {
            Ok(true)
        } else {
            self.query.is_safe_to_cache_prepared(backend)
        }
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, C> RunQueryDsl<C> for Cached<Q> {}

/// Now, in microseconds since the Unix epoch (UTC): the one way instants are stored.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://relief:s3cret@db:5432/relief"),
            "postgres://relief:***@db:5432/relief"
        );
        assert_eq!(
            redact_url("postgres://root@127.0.0.1/test"),
            "postgres://root@127.0.0.1/test"
        );
        assert_eq!(redact_url("relief.db"), "relief.db");
    }

    #[test]
    fn backend_by_scheme() {
        assert_eq!(Backend::of_url("postgresql://x/y"), Backend::Postgres);
        assert_eq!(Backend::of_url("sqlite://relief.db"), Backend::Sqlite);
        assert_eq!(Backend::of_url("relief.db"), Backend::Sqlite);
    }
}
