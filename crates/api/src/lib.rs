//! The HTTP API: routes (one module per resource), extractors, the error type and the server.

pub mod audit;
pub mod auth;
pub mod error;
pub mod extract;
pub mod headers;
pub mod idempotency;
pub mod ratelimit;
pub mod routes;
pub mod site;
pub mod state;
mod telemetry;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use error::{method_not_allowed, no_route};
use routes::{
    allocations, assessments, assets, audit as audit_routes, auth as auth_routes, bank, campaigns,
    disbursements, donations, donors, export, funds, households, incidents, ledger, ops, policies,
    public, reports, units, users,
};
use std::net::TcpListener;

pub use state::AppState;

/// One route: its method name and the actix route for it, made together so they cannot disagree.
type MethodRoute = (&'static str, actix_web::Route);

macro_rules! method_fn {
    ($($name:ident => $method:literal),*) => {$(
        fn $name<F, Args>(handler: F) -> MethodRoute
        where
            F: actix_web::Handler<Args>,
            Args: actix_web::FromRequest + 'static,
            F::Output: actix_web::Responder + 'static,
        {
            ($method, web::$name().to(handler))
        }
    )*};
}
method_fn!(get => "GET", post => "POST");

/// The route table: the one list of every path and method the service serves. `routes`
/// registers it and `route_list` reports it (the openapi and auth-matrix tests use that).
fn table() -> Vec<(&'static str, Vec<MethodRoute>)> {
    vec![
        ("/healthz", vec![get(ops::healthz)]),
        ("/readyz", vec![get(ops::readyz)]),
        ("/openapi.yaml", vec![get(ops::openapi_yaml)]),
        ("/openapi.json", vec![get(ops::openapi_json)]),
        ("/docs", vec![get(ops::docs)]),
        ("/v1/auth/token", vec![post(auth_routes::token)]),
        (
            "/v1/auth/session",
            vec![get(auth_routes::session), post(auth_routes::session_create)],
        ),
        ("/v1/auth/logout", vec![post(auth_routes::logout)]),
        ("/v1/me", vec![get(auth_routes::me)]),
        ("/v1/users", vec![get(users::list), post(users::create)]),
        ("/v1/users/{id}/disable", vec![post(users::disable)]),
        ("/v1/units", vec![get(units::list)]),
        ("/v1/units/import", vec![post(units::import)]),
        ("/v1/units/{code}", vec![get(units::get)]),
        ("/v1/assets", vec![get(assets::list), post(assets::create)]),
        ("/v1/funds", vec![get(funds::list), post(funds::create)]),
        ("/v1/funds/{id}", vec![get(funds::get)]),
        ("/v1/funds/{id}/balances", vec![get(funds::balances)]),
        (
            "/v1/funds/{id}/opening-balances",
            vec![post(funds::opening_balances)],
        ),
        ("/v1/funds/{id}/ledger", vec![get(ledger::list)]),
        ("/v1/funds/{id}/ledger/verify", vec![get(ledger::verify)]),
        ("/v1/funds/{id}/ledger/export", vec![get(export::export)]),
        (
            "/v1/funds/{id}/checkpoints",
            vec![get(export::checkpoints), post(export::sign)],
        ),
        ("/v1/checkpoints/key", vec![get(export::public_key)]),
        ("/v1/audit-events", vec![get(audit_routes::list)]),
        (
            "/v1/funds/{id}/ledger/{entry_id}/reverse",
            vec![post(ledger::reverse)],
        ),
        (
            "/v1/campaigns",
            vec![get(campaigns::list), post(campaigns::create)],
        ),
        ("/v1/campaigns/{id}", vec![get(campaigns::get)]),
        ("/v1/campaigns/{id}/extend", vec![post(campaigns::extend)]),
        ("/v1/campaigns/{id}/close", vec![post(campaigns::close)]),
        ("/v1/donors", vec![get(donors::list), post(donors::create)]),
        ("/v1/donors/{id}", vec![get(donors::get)]),
        (
            "/v1/donations",
            vec![get(donations::list), post(donations::create)],
        ),
        ("/v1/donations/{id}", vec![get(donations::get)]),
        ("/v1/donations/{id}/receipt", vec![get(donations::receipt)]),
        ("/v1/donations/{id}/reverse", vec![post(donations::reverse)]),
        (
            "/v1/bank-statements",
            vec![get(bank::list), post(bank::import)],
        ),
        (
            "/v1/bank-statements/{id}/reconciliation",
            vec![get(bank::reconciliation)],
        ),
        (
            "/v1/bank-statements/{id}/lines/{line_id}/donation",
            vec![post(bank::line_donation)],
        ),
        (
            "/v1/incidents",
            vec![get(incidents::list), post(incidents::create)],
        ),
        ("/v1/incidents/{id}", vec![get(incidents::get)]),
        ("/v1/incidents/{id}/close", vec![post(incidents::close)]),
        (
            "/v1/incidents/{id}/assessments",
            vec![get(incidents::assessments), post(incidents::assess)],
        ),
        (
            "/v1/incidents/{id}/entitlements",
            vec![get(incidents::entitlements)],
        ),
        (
            "/v1/households",
            vec![get(households::list), post(households::create)],
        ),
        ("/v1/households/{id}", vec![get(households::get)]),
        ("/v1/assessments/{id}", vec![get(assessments::get)]),
        (
            "/v1/assessments/{id}/entitlements",
            vec![get(assessments::get_entitlements)],
        ),
        (
            "/v1/policies",
            vec![get(policies::list), post(policies::create)],
        ),
        (
            "/v1/funds/{id}/approval-policy",
            vec![post(funds::approval_policy)],
        ),
        // The bulk paths come before `/v1/disbursements/{id}`, which would otherwise match them.
        (
            "/v1/disbursements/bulk",
            vec![post(disbursements::bulk_propose)],
        ),
        (
            "/v1/disbursements/bulk-approve",
            vec![post(disbursements::bulk_approve)],
        ),
        (
            "/v1/disbursements",
            vec![get(disbursements::list), post(disbursements::create)],
        ),
        ("/v1/disbursements/{id}", vec![get(disbursements::get)]),
        (
            "/v1/disbursements/{id}/approve",
            vec![post(disbursements::approve)],
        ),
        (
            "/v1/disbursements/{id}/reject",
            vec![post(disbursements::reject)],
        ),
        (
            "/v1/disbursements/{id}/cancel",
            vec![post(disbursements::cancel)],
        ),
        ("/v1/disbursements/{id}/pay", vec![post(disbursements::pay)]),
        (
            "/v1/allocations",
            vec![get(allocations::list), post(allocations::create)],
        ),
        ("/v1/allocations/{id}", vec![get(allocations::get)]),
        (
            "/v1/allocations/{id}/approve",
            vec![post(allocations::approve)],
        ),
        (
            "/v1/allocations/{id}/reject",
            vec![post(allocations::reject)],
        ),
        (
            "/v1/allocations/{id}/cancel",
            vec![post(allocations::cancel)],
        ),
        (
            "/v1/allocations/{id}/execute",
            vec![post(allocations::execute)],
        ),
        // Public disclosure: no login; rate-limited per address by `ratelimit::public_routes`.
        ("/v1/public/funds", vec![get(public::funds)]),
        (
            "/v1/public/funds/{id}/statement",
            vec![get(public::fund_statement)],
        ),
        (
            "/v1/public/campaigns/{id}/statement",
            vec![get(public::campaign_statement)],
        ),
        (
            "/v1/public/campaigns/{id}/flow",
            vec![get(public::campaign_flow)],
        ),
        ("/v1/public/donations", vec![get(public::donations)]),
        ("/v1/public/incidents/{id}", vec![get(public::incident)]),
        (
            "/v1/public/incidents/{id}/beneficiaries",
            vec![get(public::beneficiaries)],
        ),
        ("/v1/reports/funds/{id}", vec![get(reports::fund)]),
        ("/v1/reports/incidents/{id}", vec![get(reports::incident)]),
    ]
}

/// Paths served by middleware rather than the route table.
pub const MIDDLEWARE_ROUTES: &[(&str, &str)] = &[("GET", "/metrics")];

/// Registers every route; a known path with an unserved method answers 405 problem+json with the
/// path's methods in `Allow`. The middleware routes get their 405 here too (the middleware
/// answers their own method before routing).
pub fn routes(cfg: &mut web::ServiceConfig) {
    for (path, methods) in table() {
        let allow: Vec<&str> = methods.iter().map(|(m, _)| *m).collect();
        let mut resource = web::resource(path).default_service(not_allowed(allow.join(", ")));
        for (_, route) in methods {
            resource = resource.route(route);
        }
        cfg.service(resource);
    }
    for (method, path) in MIDDLEWARE_ROUTES {
        cfg.service(web::resource(*path).default_service(not_allowed((*method).to_owned())));
    }
}

/// The default service of a resource: 405 naming the methods in `allow`.
fn not_allowed(allow: String) -> actix_web::Route {
    web::to(move || {
        let res = method_not_allowed(&allow);
        async move { res }
    })
}

/// Every (method, path template) served, including middleware routes.
pub fn route_list() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = table()
        .into_iter()
        .flat_map(|(path, methods)| {
            methods
                .into_iter()
                .map(move |(m, _)| (m.to_owned(), path.to_owned()))
        })
        .collect();
    out.extend(
        MIDDLEWARE_ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned())),
    );
    out
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
            .wrap(middleware::from_fn(auth::writes_authenticated_first))
            .wrap(middleware::from_fn(ratelimit::public_routes))
            .wrap(middleware::from_fn(telemetry::request_id_header))
            .wrap(prometheus.clone())
            .wrap(tracing_actix_web::TracingLogger::<telemetry::RootSpan>::new())
            .wrap(middleware::from_fn(headers::security_headers))
            .app_data(state.clone())
            .configure(routes)
            .configure(site::routes)
            .default_service(web::to(no_route))
    })
    .shutdown_timeout(15)
    .listen(listener)?;
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.run())
}
