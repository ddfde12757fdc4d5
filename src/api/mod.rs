//! The HTTP API: one file per resource, assembled here into `/api/v1`, the OpenAPI document at
//! `/api/openapi.json`, Swagger UI at `/docs`, and the operations endpoints; every other path
//! is the web app (`crate::web`).

mod access_log;
mod account;
mod admin;
mod allow;
mod auth;
mod body;
mod channels;
mod direct_json;
mod dms;
pub mod dto;
mod edge;
mod fields;
mod files;
mod messages;
mod ops;
pub mod problem;
mod realtime;
mod search;
pub mod security;
mod setup;
mod sso;
pub mod statuses;
mod threads;
mod users;
mod web_session;
mod workspaces;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route, get, middleware::Cors};
use poem_openapi::{OpenApiService, Tags};

use crate::app::AppState;

#[derive(Tags)]
pub enum ApiTags {
    /// First-run setup.
    Setup,
    /// Accounts, sessions, two-factor authentication.
    Auth,
    /// People.
    Users,
    /// Workspaces and invites.
    Workspaces,
    /// Channels, members, read state.
    Channels,
    /// Messages, threads, reactions, pins.
    Messages,
    /// Uploads, downloads and the files of conversations.
    Files,
    /// Direct messages and the conversations list.
    Conversations,
    /// Administration.
    Admin,
    /// Realtime (WebSocket) access.
    Realtime,
    /// Full-text search of messages, and files by name.
    Search,
}

type Apis = (
    setup::SetupApi,
    auth::AuthApi,
    web_session::WebSessionApi,
    sso::SsoApi,
    account::AccountApi,
    users::UsersApi,
    workspaces::WorkspacesApi,
    channels::ChannelsApi,
    messages::MessagesApi,
    threads::ThreadsApi,
    files::FilesApi,
    dms::DmsApi,
    admin::Apis,
    realtime::RealtimeApi,
    search::SearchApi,
);

fn service(state: &Arc<AppState>) -> OpenApiService<Apis, ()> {
    let apis = (
        setup::SetupApi {
            state: state.clone(),
        },
        auth::AuthApi {
            state: state.clone(),
        },
        web_session::WebSessionApi {
            state: state.clone(),
        },
        sso::SsoApi {
            state: state.clone(),
        },
        account::AccountApi {
            state: state.clone(),
        },
        users::UsersApi {
            state: state.clone(),
        },
        workspaces::WorkspacesApi {
            state: state.clone(),
        },
        channels::ChannelsApi {
            state: state.clone(),
        },
        messages::MessagesApi {
            state: state.clone(),
        },
        threads::ThreadsApi {
            state: state.clone(),
        },
        files::FilesApi {
            state: state.clone(),
        },
        dms::DmsApi {
            state: state.clone(),
        },
        admin::apis(state),
        realtime::RealtimeApi {
            state: state.clone(),
        },
        search::SearchApi {
            state: state.clone(),
        },
    );
    OpenApiService::new(apis, "CoLink API", env!("CARGO_PKG_VERSION"))
        .description(
            "Self-hosted team chat. Errors are RFC 9457 problem+json with a stable `code`.",
        )
        .server("/api/v1")
}

/// The metrics listener's routes (`telemetry.metrics_bind`): `/metrics` alone.
pub fn metrics_routes(state: Arc<AppState>) -> impl Endpoint {
    Route::new()
        .at("/metrics", get(ops::metrics_listener))
        .data(state)
}

/// The OpenAPI document as JSON (for `colink openapi`), built without a running server.
pub fn openapi_json(state: &Arc<AppState>) -> String {
    service(state).spec()
}

pub fn routes(state: Arc<AppState>, _port: u16) -> impl Endpoint {
    let api = service(&state);
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let spec_json = api.spec();
    let allow = allow::AllowTable::from_spec(&spec_json, "/api/v1");
    let route_names = crate::telemetry::metrics::RouteNames::from_openapi(&spec_json, "/api/v1");
    let policy = Arc::new(edge::EdgePolicy::new(
        &state.config,
        allow,
        state.metrics.clone(),
        route_names,
    ));
    let origins = state.config.server.cors_origins.clone();
    let web = crate::web::WebApp::new().with_file_origin(state.storage.public_origin().as_deref());
    // Release servers compress the app's files at start; debug builds (tests) read `ui-dist/`
    // from disk per request and would only spend CPU.
    if !cfg!(debug_assertions) {
        web.warm_in_background();
    }

    let route = Route::new()
        .nest("/api/v1", api)
        .at("/api/openapi.json", spec)
        .nest("/docs", docs)
        .at("/health", get(ops::health))
        .at("/ready", get(ops::ready))
        .at("/metrics", get(ops::metrics))
        .at("/ws", get(crate::realtime::gateway::ws))
        // Everything else: the web app's files, or its index.html for the app's own routes.
        .at("/", web.clone())
        .at("/*path", web)
        .data(state);

    // An empty allowlist means no cross-origin access at all (poem's Cors would allow any).
    let cors = (!origins.is_empty()).then(|| {
        Cors::new()
            .allow_origins(origins)
            .allow_headers([
                "authorization",
                "content-type",
                "idempotency-key",
                "x-request-id",
            ])
            .expose_headers(["x-request-id", "retry-after"])
            .max_age(600)
    });
    route
        .with_if(cors.is_some(), cors.unwrap_or_default())
        .around(move |next, req| edge::handle(next, req, policy.clone()))
}
