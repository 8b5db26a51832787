//! The HTTP API: routes (one module per resource), extractors, the error type and the server.

pub mod auth;
pub mod error;
pub mod extract;
pub mod routes;
pub mod state;
mod telemetry;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use error::{method_not_allowed, not_found};
use routes::{auth as auth_routes, ops, units, users};
use std::net::TcpListener;

pub use state::AppState;

/// A resource whose unserved methods answer 405 problem+json.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Every route of the service. `openapi.yaml` lists exactly these (a test checks both ways).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(ops::healthz)))
        .service(resource("/readyz").route(web::get().to(ops::readyz)))
        .service(resource("/openapi.yaml").route(web::get().to(ops::openapi_yaml)))
        .service(resource("/openapi.json").route(web::get().to(ops::openapi_json)))
        .service(resource("/docs").route(web::get().to(ops::docs)))
        .service(resource("/v1/auth/token").route(web::post().to(auth_routes::token)))
        .service(resource("/v1/me").route(web::get().to(auth_routes::me)))
        .service(
            resource("/v1/users")
                .route(web::get().to(users::list))
                .route(web::post().to(users::create)),
        )
        .service(resource("/v1/users/{id}/disable").route(web::post().to(users::disable)))
        .service(resource("/v1/units").route(web::get().to(units::list)))
        .service(resource("/v1/units/import").route(web::post().to(units::import)))
        .service(resource("/v1/units/{code}").route(web::get().to(units::get)));
}

/// Builds the server on an already bound listener (port 0 in tests).
pub fn serve(
    state: web::Data<AppState>,
    listener: TcpListener,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let prometheus = actix_web_prom::PrometheusMetricsBuilder::new("relief")
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|e| std::io::Error::other(format!("metrics: {e}")))?;
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(middleware::from_fn(telemetry::request_id_header))
            .wrap(prometheus.clone())
            .wrap(tracing_actix_web::TracingLogger::<telemetry::RootSpan>::new())
            .app_data(state.clone())
            .configure(routes)
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(15)
    .listen(listener)?;
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.run())
}
