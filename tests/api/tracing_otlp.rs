//! Traces reach an OTLP/HTTP receiver (this test's, decoding the protobuf the way a collector
//! does): one message's trace runs from the HTTP request (continuing the caller's W3C
//! `traceparent`) through the service and the database transaction to the bus publish and the
//! WebSocket fan-out, all under the caller's trace id.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use colink_client::{Client, ws::WsAuth};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use poem::{Request, Route, endpoint::make, http::StatusCode, post};
use prost::Message;
use serde_json::json;

use crate::cli::{owner_and_channel, serve};

/// A span as received: its name, trace id and parent span id (hex).
#[derive(Debug, Clone)]
struct Received {
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Listen for `POST /v1/traces` and keep every span decoded from it.
async fn receiver() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    let endpoint = make(move |mut req: Request| {
        let kept = kept.clone();
        async move {
            let body = req.take_body().into_vec().await.unwrap_or_default();
            let Ok(export) = ExportTraceServiceRequest::decode(body.as_slice()) else {
                return StatusCode::BAD_REQUEST;
            };
            let mut kept = kept.lock().unwrap();
            for resource in export.resource_spans {
                for scope in resource.scope_spans {
                    for span in scope.spans {
                        kept.push(Received {
                            name: span.name,
                            trace_id: hex(&span.trace_id),
                            span_id: hex(&span.span_id),
                            parent: hex(&span.parent_span_id),
                        });
                    }
                }
            }
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let limits = colink::server::ConnectionLimits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(10),
    };
    tokio::spawn(colink::server::serve(
        listener,
        Route::new().at("/v1/traces", post(endpoint)),
        limits,
        std::future::pending(),
        Duration::ZERO,
    ));
    (port, spans)
}

#[tokio::test]
async fn one_message_is_one_trace_from_http_through_the_database_and_bus_to_websocket_fanout() {
    colink::install_crypto_provider();
    let (port, spans) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database().await.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("colink.db").display()
        )
    });
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = [
        ("COLINK_DATA_DIR", dir.path().to_str().unwrap()),
        ("COLINK_DATABASE__URL", url.as_str()),
        ("COLINK_TELEMETRY__OTLP_ENDPOINT", endpoint.as_str()),
        // Export every 100 ms instead of every 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let (mut child, server_port) = serve(&env);
    let base = format!("http://127.0.0.1:{server_port}/api/v1");
    let http = reqwest::Client::new();
    let (access, channel) = owner_and_channel(&http, &base, dir.path(), "traced").await;
    let mut socket = Client::new(&format!("http://127.0.0.1:{server_port}"))
        .ws_connect_with(WsAuth::Token(&access), None)
        .await
        .unwrap();
    socket
        .send_json(&json!({"type": "subscribe", "channel_id": channel}))
        .await
        .unwrap();

    // The caller's trace: the message's spans must all belong to it.
    let trace_id = format!("{:032x}", uuid::Uuid::now_v7().as_u128());
    let caller_span = "00f067aa0ba902b7";
    let sent = http
        .post(format!("{base}/channels/{channel}/messages"))
        .bearer_auth(&access)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"content": "follow me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status().as_u16(), 201);

    let wanted = [
        "POST /api/v1/channels/{id}/messages",
        "send",
        "db.store_messages",
        "INSERT messages",
        "bus.publish",
        "websocket.fanout",
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let trace: HashMap<String, Received> = loop {
        let found: HashMap<String, Received> = spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .map(|s| (s.name.clone(), s.clone()))
            .collect();
        if wanted.iter().all(|name| found.contains_key(*name)) {
            break found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "spans of trace {trace_id} received: {:?}",
            found.keys().collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let request = &trace["POST /api/v1/channels/{id}/messages"];
    assert_eq!(
        request.parent, caller_span,
        "the request continues the caller's span"
    );
    assert_eq!(
        trace["send"].parent, request.span_id,
        "the service runs in the request"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
