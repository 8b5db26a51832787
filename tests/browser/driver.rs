//! The browser harness: a chromedriver on a free port driving a headless Chromium with a fresh
//! profile, explicit waits, form helpers and screenshots. One browser at a time (the machine has
//! two cores): `Browser::start` holds a lock until the browser is dropped.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, MutexGuard};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a wait polls before it fails.
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
pub const PHONE: (u32, u32) = (360, 800);
pub const DESKTOP: (u32, u32) = (1280, 900);

/// Serialises the browser tests of this binary.
static ONE_BROWSER: Mutex<()> = Mutex::const_new(());

/// Where screenshots go: under the target directory, never in the repository.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A chromedriver process (in its own process group) and the browser profile; both are removed
/// on drop, also when a test panics: the session still open is ended first, so that
/// chromedriver quits Chromium and reaps it, then the process group is killed.
struct Driver {
    child: Child,
    profile: PathBuf,
    port: u16,
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            end_session(self.port, &id);
        }
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

pub struct Browser {
    pub client: Client,
    /// The app's base URL, such as `http://127.0.0.1:4242`.
    pub base: String,
    /// A prefix for screenshot names (the backend).
    pub tag: String,
    _driver: Driver,
    _serial: MutexGuard<'static, ()>,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session at desktop size. Fails (never skips)
    /// when Chromium or chromedriver is missing.
    pub async fn start(base: &str, tag: &str) -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: the browser tests need the Debian packages chromium and \
                 chromium-driver (`apt-get install -y chromium chromium-driver`; .ci/run installs them)"
            );
        }
        let serial = ONE_BROWSER.lock().await;
        let profile =
            std::env::temp_dir().join(format!("relief-chromium-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let mut driver = Driver {
            child,
            profile,
            port,
            session: None,
        };
        let url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&url).await;

        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-crash-reporter".to_owned(),
            "--disable-breakpad".to_owned(),
            format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            format!("--user-data-dir={}", driver.profile.display()),
        ];
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot start a Chromium session through chromedriver: {e}")
            });
        driver.session = client.session_id().await.ok().flatten();
        Browser {
            client,
            base: base.to_owned(),
            tag: tag.to_owned(),
            _driver: driver,
            _serial: serial,
        }
    }

    /// Ends the session (Chromium quits); the drop then stops chromedriver.
    pub async fn close(mut self) {
        if self.client.clone().close().await.is_ok() {
            self._driver.session = None;
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// The page's path and the start of its visible text, for failure messages.
    pub async fn describe(&self) -> String {
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let text = self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let text: String = text.chars().take(1500).collect();
        format!("at {url}, the page reads:\n{text}")
    }

    /// Saves a screenshot named `failed-<what>` and panics with the page's state.
    pub async fn fail(&self, what: &str) -> ! {
        let name = format!(
            "failed-{}",
            what.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .take(60)
                .collect::<String>()
        );
        let shot = self.screenshot(&name).await;
        let state = self.describe().await;
        panic!("{what} ({state})\n[screenshot: {}]", shot.display());
    }

    /// The first element matching `css`, polling up to [`WAIT`].
    pub async fn wait(&self, css: &str) -> Element {
        let start = Instant::now();
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                return e;
            }
            if start.elapsed() > WAIT {
                self.fail(&format!("no element `{css}` after {WAIT:?}"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> bool {
        self.client
            .find_all(Locator::Css(css))
            .await
            .is_ok_and(|v| !v.is_empty())
    }

    /// Whether an element matches `css` now and is displayed.
    pub async fn visible(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// The text of the first element matching `css` once `ok` holds for it, polling up to
    /// [`WAIT`]. No-break spaces read as spaces.
    pub async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = e.text().await {
                    last = t.replace('\u{a0}', " ");
                    if ok(&last) {
                        return last;
                    }
                }
            }
            if start.elapsed() > WAIT {
                self.fail(&format!(
                    "`{css}` did not come to {what} after {WAIT:?}; its text was {last:?}"
                ))
                .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Types `text` into the field named `name` of `form` (a CSS selector), replacing its value.
    pub async fn fill(&self, form: &str, name: &str, text: &str) {
        let input = self.wait(&format!("{form} [name=\"{name}\"]")).await;
        input
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {name}: {e}"));
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {name}: {e}"));
    }

    /// Picks `value` in the select named `name` of `form`, once that option exists (options
    /// often arrive from the API after the form).
    pub async fn select(&self, form: &str, name: &str, value: &str) {
        let css = format!("{form} select[name=\"{name}\"]");
        self.wait(&format!("{css} option[value=\"{value}\"]")).await;
        self.wait(&css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {name}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        let e = self.wait(css).await;
        if let Err(e) = e.click().await {
            self.fail(&format!("click `{css}`: {e}")).await;
        }
    }

    /// Logs in at `/console/login` and waits for the signed-in header.
    pub async fn login(&self, username: &str, password: &str) {
        self.goto("/console/login").await;
        self.fill("form#login-form", "username", username).await;
        self.fill("form#login-form", "password", password).await;
        self.click("button#login-submit").await;
        self.wait("#top .who").await;
    }

    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resize to {width}x{height}: {e}"));
    }

    /// Saves a PNG of the viewport as `<tag>-<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        let path = dir.join(format!("{}-{name}.png", self.tag));
        match self.client.screenshot().await {
            Ok(png) => {
                let _ = std::fs::create_dir_all(&dir);
                if let Err(e) = std::fs::write(&path, png) {
                    eprintln!("cannot write {}: {e}", path.display());
                }
            }
            Err(e) => eprintln!("no screenshot {name}: {e}"),
        }
        path
    }

    /// Screenshots of the current page at phone and then desktop width (`<name>-phone.png`,
    /// `<name>-desktop.png`); the window is left at desktop size.
    pub async fn screenshots(&self, name: &str) {
        for (size, label) in [(PHONE, "phone"), (DESKTOP, "desktop")] {
            self.resize(size).await;
            // Let the layout settle at the new width, then measure it.
            let widths = self
                .client
                .execute(
                    "return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() =>
                       r([document.documentElement.scrollWidth, document.documentElement.clientWidth]))));",
                    vec![],
                )
                .await
                .unwrap_or_default();
            let path = self.screenshot(&format!("{name}-{label}")).await;
            println!("screenshot: {}", path.display());
            // Nothing wider than the screen: wide tables scroll in their own box.
            let (Some(scroll), Some(client)) = (widths[0].as_u64(), widths[1].as_u64()) else {
                panic!("cannot measure the page {name} at {label} width: {widths}");
            };
            assert!(
                scroll <= client,
                "{name} at {label} width is {scroll} px wide in a {client} px window (see {})",
                path.display()
            );
        }
    }

    /// Fetches `href` from the page with its session (cookies) and returns
    /// `{status, type, body}` (the body cut to 2000 characters).
    pub async fn fetch(&self, href: &str) -> Value {
        let script = "const [href, done] = arguments;
            fetch(href, {credentials: 'same-origin'})
              .then(async (r) => done({status: r.status, type: r.headers.get('content-type') || '',
                                        body: (await r.text()).slice(0, 2000)}))
              .catch((e) => done({status: 0, type: '', body: String(e)}));";
        self.client
            .execute_async(script, vec![json!(href)])
            .await
            .unwrap_or_else(|e| panic!("fetch {href} in the page: {e}"))
    }
}

/// `DELETE /session/{id}` to chromedriver, blocking (for a drop): Chromium quits.
fn end_session(port: u16, id: &str) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(WAIT));
    let _ = write!(
        s,
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let _ = s.read_to_end(&mut Vec::new());
}

/// Polls chromedriver's `/status` until it is ready.
async fn wait_until_ready(url: &str) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{url}/status")).send().await {
            if let Ok(v) = r.json::<Value>().await {
                if v["value"]["ready"] == json!(true) {
                    return;
                }
            }
        }
        assert!(
            start.elapsed() < WAIT,
            "chromedriver did not answer on {url} within {WAIT:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}
