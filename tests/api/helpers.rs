use diesel::connection::SimpleConnection;
use diesel::Connection;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use server::config::{Config, LogFormat};
use server::Application;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const PASSWORD: &str = "a-good-long-password";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn name(backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

/// The test client: it drops a kept-alive connection idle for 2 s, before the server's 5 s
/// keep-alive closes it, so a request after a long pause (seeding thousands of entries) never
/// goes out on a connection the server is closing.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("an HTTP client")
}

fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

enum Cleanup {
    File(std::path::PathBuf),
    PgDatabase(String),
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: storage::Db,
    pub backend: Backend,
    cleanup: Cleanup,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::PgDatabase(name) => {
                if let Ok(mut c) = diesel::PgConnection::establish(&pg_admin_url()) {
                    let _ =
                        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// The database URL for a fresh, isolated database of `backend`.
fn fresh_database(backend: Backend) -> (String, Cleanup) {
    let id = uuid::Uuid::now_v7().simple().to_string();
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("relief-test-{id}.db"));
            (format!("sqlite://{}", path.display()), Cleanup::File(path))
        }
        Backend::Postgres => {
            let admin = pg_admin_url();
            let mut c = diesel::PgConnection::establish(&admin).unwrap_or_else(|e| {
                panic!("PostgreSQL is required for the PostgreSQL suite at {admin}: {e}")
            });
            let name = format!("relief_t_{id}");
            c.batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create test database");
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), Cleanup::PgDatabase(name))
        }
    }
}

pub fn test_config(database_url: String) -> Config {
    Config {
        database_url,
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some(JWT_SECRET.into()),
        id_hash_key: None,
        checkpoint_key: None,
        // Tests sign checkpoints on demand.
        checkpoint_interval_secs: 0,
        token_ttl_secs: 600,
        log_format: LogFormat::Pretty,
        admin_password: Some(ADMIN_PASSWORD.into()),
        // Enough for the 16-thread ledger test to run 16 transactions at once.
        db_max_connections: 16,
        db_acquire_timeout_ms: 3000,
        workers: Some(1),
        // High enough that no test meets the public rate limit unless it lowers it.
        public_rate_per_sec: 10_000,
        public_burst: 10_000,
        ..Config::default()
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        if std::env::var("TEST_LOG").is_ok() {
            server::telemetry::init(LogFormat::Pretty);
        }
        let (url, cleanup) = fresh_database(backend);
        let app = Application::build(&test_config(url)).expect("application starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let db = app.db.clone();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base,
            client: client(),
            db,
            backend,
            cleanup,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/v1/auth/token"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("request")
    }

    pub async fn token(&self, username: &str, password: &str) -> String {
        let r = self.login(username, password).await;
        assert_eq!(r.status(), StatusCode::OK, "login of {username}");
        let body: Value = r.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token("admin", ADMIN_PASSWORD).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Creates a user through the API and returns its JSON.
    pub async fn create_user(
        &self,
        token: &str,
        username: &str,
        role: &str,
        scope: Option<&str>,
    ) -> Value {
        let mut body = json!({
            "username": username,
            "password": PASSWORD,
            "display_name": format!("User {username}"),
            "role": role,
        });
        if let Some(s) = scope {
            body["scope_unit"] = json!(s);
        }
        let r = self.post("/v1/users", token, &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "create {username}");
        r.json().await.expect("json")
    }

    /// Creates a user and logs in as them.
    pub async fn user_token(&self, username: &str, role: &str, scope: Option<&str>) -> String {
        let admin = self.admin_token().await;
        self.create_user(&admin, username, role, scope).await;
        self.token(username, PASSWORD).await
    }
}

/// Asserts a problem+json response with `status` and `code`, and returns its body.
pub async fn problem(r: Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "status");
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = r.json().await.expect("json body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

/// The fields named in a validation problem.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn json(r: Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "unexpected status, body: {body}");
    body
}

impl TestApp {
    /// Creates a fund for `unit` (2025 edition) and returns its JSON.
    pub async fn create_fund(&self, token: &str, unit: &str, name: &str) -> Value {
        let r = self
            .post(
                "/v1/funds",
                token,
                &json!({
                    "unit": unit,
                    "name": name,
                    "custodian": "Ủy ban MTTQ Việt Nam",
                    "custodian_kind": "fatherland_front",
                }),
            )
            .await;
        json(r, 201).await
    }

    /// The id of a user, read from the database.
    pub fn user_id(&self, username: &str) -> String {
        let name = username.to_owned();
        self.db
            .read(move |c| storage::users::by_username(c, &name))
            .expect("read user")
            .expect("user exists")
            .id
    }

    /// The fund's balances as (asset, posted, reserved) in minor units per account, read from
    /// storage.
    pub fn balances(&self, fund_id: &str) -> Vec<(String, i64, i64)> {
        let id = fund_id.to_owned();
        self.db
            .read(move |c| storage::ledger::balances(c, &id, None))
            .expect("balances")
            .into_iter()
            .map(|b| (b.asset, b.posted, b.reserved))
            .collect()
    }
}

impl TestApp {
    /// Like [`TestApp::spawn`], with the test configuration changed by `change` first (a low
    /// public rate limit, for instance).
    pub async fn spawn_with(backend: Backend, change: impl FnOnce(&mut Config)) -> TestApp {
        let (url, cleanup) = fresh_database(backend);
        let mut config = test_config(url);
        change(&mut config);
        let app = Application::build(&config).expect("application starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let db = app.db.clone();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base,
            client: client(),
            db,
            backend,
            cleanup,
        }
    }
}
