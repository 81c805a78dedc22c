//! Attribute names that codecs, stores and queries agree on.
//!
//! Most come from OpenTelemetry's semantic conventions. The rest keep facts of one wire format
//! under a stable name, chosen so that a tool which knows that format's OpenTelemetry mapping finds
//! them where it expects (Datadog's `resource.name` and `span.type`, OpenTracing's
//! `opentracing.ref_type`), or named after the format when no mapping exists (`zipkin.shared`).

// Resource.
pub const SERVICE_NAME: &str = "service.name";
pub const SERVICE_VERSION: &str = "service.version";
pub const SERVICE_NAMESPACE: &str = "service.namespace";
pub const SERVICE_INSTANCE_ID: &str = "service.instance.id";
pub const DEPLOYMENT_ENVIRONMENT_NAME: &str = "deployment.environment.name";
/// The older name of [`DEPLOYMENT_ENVIRONMENT_NAME`], still sent by many SDKs.
pub const DEPLOYMENT_ENVIRONMENT: &str = "deployment.environment";
pub const HOST_NAME: &str = "host.name";
pub const HOST_IP: &str = "host.ip";
pub const CONTAINER_ID: &str = "container.id";
pub const PROCESS_RUNTIME_VERSION: &str = "process.runtime.version";
pub const TELEMETRY_SDK_NAME: &str = "telemetry.sdk.name";
pub const TELEMETRY_SDK_LANGUAGE: &str = "telemetry.sdk.language";
pub const TELEMETRY_SDK_VERSION: &str = "telemetry.sdk.version";
/// OpenTelemetry's service name when a tracer sent none.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

// Peers and network.
pub const PEER_SERVICE: &str = "peer.service";
pub const SERVER_ADDRESS: &str = "server.address";
pub const SERVER_PORT: &str = "server.port";
pub const CLIENT_ADDRESS: &str = "client.address";
pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";
pub const NETWORK_PEER_PORT: &str = "network.peer.port";
pub const NETWORK_LOCAL_ADDRESS: &str = "network.local.address";
pub const NETWORK_LOCAL_PORT: &str = "network.local.port";

// Operations that users search by.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
pub const HTTP_ROUTE: &str = "http.route";
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
pub const URL_FULL: &str = "url.full";
pub const DB_SYSTEM: &str = "db.system";
pub const DB_QUERY_TEXT: &str = "db.query.text";
pub const MESSAGING_SYSTEM: &str = "messaging.system";
pub const RPC_SYSTEM: &str = "rpc.system";
pub const ERROR_TYPE: &str = "error.type";

// Exceptions, recorded as an event named `exception`.
pub const EXCEPTION_EVENT: &str = "exception";
pub const EXCEPTION_TYPE: &str = "exception.type";
pub const EXCEPTION_MESSAGE: &str = "exception.message";
pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";

// How formats without OpenTelemetry's fields carry status, kind and scope as tags.
pub const OTEL_STATUS_CODE: &str = "otel.status_code";
pub const OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";
pub const OTEL_SCOPE_NAME: &str = "otel.scope.name";
pub const OTEL_SCOPE_VERSION: &str = "otel.scope.version";
/// Older name of [`OTEL_SCOPE_NAME`].
pub const OTEL_LIBRARY_NAME: &str = "otel.library.name";
/// Older name of [`OTEL_SCOPE_VERSION`].
pub const OTEL_LIBRARY_VERSION: &str = "otel.library.version";
/// OpenTracing's kind tag, used by Jaeger, Zipkin v1 binary annotations and Datadog meta.
pub const SPAN_KIND: &str = "span.kind";
/// OpenTracing's and Zipkin's error tag.
pub const ERROR: &str = "error";

// Sampling.
/// The sampling decision a tracer recorded: Datadog's `_sampling_priority_v1`, Jaeger's tag.
pub const SAMPLING_PRIORITY: &str = "sampling.priority";

// Datadog facts, named as Datadog's OpenTelemetry mapping reads them.
/// Datadog's resource (`GET /users/{id}`, a SQL statement, ...).
pub const DATADOG_RESOURCE: &str = "resource.name";
/// Datadog's span type (`web`, `http`, `sql`, `cache`, ...).
pub const DATADOG_SPAN_TYPE: &str = "span.type";
/// Datadog's operation name, when it differs from the span name.
pub const DATADOG_OPERATION: &str = "operation.name";

// OpenTracing references other than the parent become links carrying their type.
pub const OPENTRACING_REF_TYPE: &str = "opentracing.ref_type";

// Zipkin facts.
/// Set on the server half of a span whose id the client half shares.
pub const ZIPKIN_SHARED: &str = "zipkin.shared";
/// Zipkin's `debug` flag: the tracer forced this trace to be recorded.
pub const ZIPKIN_DEBUG: &str = "zipkin.debug";

// Jaeger facts.
/// Jaeger's debug flag (flags value 2): the tracer forced this trace to be recorded.
pub const JAEGER_DEBUG: &str = "jaeger.debug";
