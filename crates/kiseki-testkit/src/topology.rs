//! The online shop whose traffic the generator simulates: services, endpoints and who calls whom.
//!
//! Modelled on the OpenTelemetry demo: a web frontend, gRPC and HTTP backends in several languages,
//! PostgreSQL and Redis that send no spans of their own, and Kafka consumers.

/// How a service is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Grpc,
}

/// One endpoint of a service and what serving it does.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub service: &'static str,
    pub protocol: Protocol,
    /// `GET /api/products/{id}` for HTTP (method and route), `oteldemo.CartService/GetCart` for gRPC.
    pub name: &'static str,
    /// Median time spent in the endpoint itself, in microseconds.
    pub self_time_us: u64,
    pub steps: &'static [Step],
}

/// Something an endpoint does while serving a request.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Calls another endpoint (the index into [`ENDPOINTS`]); `repeat` times in a row.
    Call { endpoint: usize, repeat: u8 },
    /// Queries a database that sends no spans itself.
    Query {
        system: &'static str,
        namespace: &'static str,
        operation: &'static str,
        table: &'static str,
        statement: &'static str,
    },
    /// Publishes to a Kafka topic; each listed endpoint consumes the message.
    Publish { topic: &'static str, consumers: &'static [usize] },
    /// Work inside the service worth its own span.
    Internal { name: &'static str },
    /// Fails with this exception in the given share of requests (per mille).
    Fail { per_mille: u16, exception: &'static str, message: &'static str },
}

/// A service and what its SDK reports about itself.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    pub version: &'static str,
    pub language: &'static str,
    pub instances: u8,
}

pub const SERVICES: &[Service] = &[
    Service { name: "frontend", version: "2.1.0", language: "nodejs", instances: 3 },
    Service { name: "product-catalog", version: "1.8.3", language: "go", instances: 2 },
    Service { name: "cart", version: "1.4.2", language: "dotnet", instances: 2 },
    Service { name: "checkout", version: "3.0.1", language: "go", instances: 2 },
    Service { name: "currency", version: "1.0.7", language: "cpp", instances: 1 },
    Service { name: "payment", version: "2.2.0", language: "nodejs", instances: 2 },
    Service { name: "shipping", version: "0.9.4", language: "rust", instances: 1 },
    Service { name: "quote", version: "1.1.0", language: "php", instances: 1 },
    Service { name: "email", version: "1.0.2", language: "ruby", instances: 1 },
    Service { name: "recommendation", version: "1.3.0", language: "python", instances: 2 },
    Service { name: "ad", version: "1.6.1", language: "java", instances: 1 },
    Service { name: "accounting", version: "1.2.0", language: "dotnet", instances: 1 },
    Service { name: "fraud-detection", version: "1.0.0", language: "java", instances: 1 },
];

// Endpoint indexes, so the call graph below reads by name.
pub const FRONTEND_HOME: usize = 0;
pub const FRONTEND_PRODUCT: usize = 1;
pub const FRONTEND_ADD_TO_CART: usize = 2;
pub const FRONTEND_VIEW_CART: usize = 3;
pub const FRONTEND_CHECKOUT: usize = 4;
const CATALOG_LIST: usize = 5;
const CATALOG_GET: usize = 6;
const CART_ADD: usize = 7;
const CART_GET: usize = 8;
const CART_EMPTY: usize = 9;
const CHECKOUT_PLACE: usize = 10;
const CURRENCY_CONVERT: usize = 11;
const CURRENCY_SUPPORTED: usize = 12;
const PAYMENT_CHARGE: usize = 13;
const SHIPPING_QUOTE: usize = 14;
const SHIPPING_SHIP: usize = 15;
const QUOTE_GET: usize = 16;
const EMAIL_SEND: usize = 17;
const RECOMMENDATION_LIST: usize = 18;
const AD_GET: usize = 19;
const ACCOUNTING_CONSUME: usize = 20;
const FRAUD_CONSUME: usize = 21;

const PRODUCTS_BY_ID: &str = "SELECT id, name, description, picture, price_units, price_nanos, categories FROM products WHERE id = $1";

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        service: "frontend",
        protocol: Protocol::Http,
        name: "GET /",
        self_time_us: 1_800,
        steps: &[
            Step::Call { endpoint: CURRENCY_SUPPORTED, repeat: 1 },
            Step::Call { endpoint: CATALOG_LIST, repeat: 1 },
            Step::Call { endpoint: AD_GET, repeat: 1 },
            Step::Call { endpoint: RECOMMENDATION_LIST, repeat: 1 },
        ],
    },
    Endpoint {
        service: "frontend",
        protocol: Protocol::Http,
        name: "GET /api/products/{productId}",
        self_time_us: 900,
        steps: &[
            Step::Call { endpoint: CATALOG_GET, repeat: 1 },
            Step::Call { endpoint: CURRENCY_CONVERT, repeat: 1 },
            Step::Call { endpoint: RECOMMENDATION_LIST, repeat: 1 },
            Step::Call { endpoint: AD_GET, repeat: 1 },
        ],
    },
    Endpoint {
        service: "frontend",
        protocol: Protocol::Http,
        name: "POST /api/cart",
        self_time_us: 600,
        steps: &[Step::Call { endpoint: CART_ADD, repeat: 1 }],
    },
    Endpoint {
        service: "frontend",
        protocol: Protocol::Http,
        name: "GET /api/cart",
        self_time_us: 700,
        steps: &[
            Step::Call { endpoint: CART_GET, repeat: 1 },
            Step::Call { endpoint: CATALOG_GET, repeat: 3 },
            Step::Call { endpoint: CURRENCY_CONVERT, repeat: 3 },
        ],
    },
    Endpoint {
        service: "frontend",
        protocol: Protocol::Http,
        name: "POST /api/checkout",
        self_time_us: 1_200,
        steps: &[Step::Call { endpoint: CHECKOUT_PLACE, repeat: 1 }],
    },
    Endpoint {
        service: "product-catalog",
        protocol: Protocol::Grpc,
        name: "oteldemo.ProductCatalogService/ListProducts",
        self_time_us: 300,
        steps: &[Step::Query {
            system: "postgresql",
            namespace: "catalog",
            operation: "SELECT",
            table: "products",
            statement: "SELECT id, name, description, picture, price_units, price_nanos, categories FROM products ORDER BY name LIMIT $1",
        }],
    },
    Endpoint {
        service: "product-catalog",
        protocol: Protocol::Grpc,
        name: "oteldemo.ProductCatalogService/GetProduct",
        self_time_us: 150,
        steps: &[
            Step::Query {
                system: "postgresql",
                namespace: "catalog",
                operation: "SELECT",
                table: "products",
                statement: PRODUCTS_BY_ID,
            },
            Step::Fail {
                per_mille: 12,
                exception: "ProductNotFound",
                message: "product OLJCESPC7Z not found",
            },
        ],
    },
    Endpoint {
        service: "cart",
        protocol: Protocol::Grpc,
        name: "oteldemo.CartService/AddItem",
        self_time_us: 250,
        steps: &[
            Step::Query {
                system: "redis",
                namespace: "0",
                operation: "HGET",
                table: "",
                statement: "HGET cart:{userId} items",
            },
            Step::Query {
                system: "redis",
                namespace: "0",
                operation: "HSET",
                table: "",
                statement: "HSET cart:{userId} items ?",
            },
        ],
    },
    Endpoint {
        service: "cart",
        protocol: Protocol::Grpc,
        name: "oteldemo.CartService/GetCart",
        self_time_us: 200,
        steps: &[Step::Query {
            system: "redis",
            namespace: "0",
            operation: "HGET",
            table: "",
            statement: "HGET cart:{userId} items",
        }],
    },
    Endpoint {
        service: "cart",
        protocol: Protocol::Grpc,
        name: "oteldemo.CartService/EmptyCart",
        self_time_us: 150,
        steps: &[Step::Query {
            system: "redis",
            namespace: "0",
            operation: "DEL",
            table: "",
            statement: "DEL cart:{userId}",
        }],
    },
    Endpoint {
        service: "checkout",
        protocol: Protocol::Grpc,
        name: "oteldemo.CheckoutService/PlaceOrder",
        self_time_us: 800,
        steps: &[
            Step::Call { endpoint: CART_GET, repeat: 1 },
            Step::Internal { name: "prepareOrderItemsAndShippingQuoteFromCart" },
            Step::Call { endpoint: CATALOG_GET, repeat: 2 },
            Step::Call { endpoint: CURRENCY_CONVERT, repeat: 2 },
            Step::Call { endpoint: SHIPPING_QUOTE, repeat: 1 },
            Step::Call { endpoint: PAYMENT_CHARGE, repeat: 1 },
            Step::Call { endpoint: SHIPPING_SHIP, repeat: 1 },
            Step::Call { endpoint: CART_EMPTY, repeat: 1 },
            Step::Call { endpoint: EMAIL_SEND, repeat: 1 },
            Step::Publish { topic: "orders", consumers: &[ACCOUNTING_CONSUME, FRAUD_CONSUME] },
        ],
    },
    Endpoint {
        service: "currency",
        protocol: Protocol::Grpc,
        name: "oteldemo.CurrencyService/Convert",
        self_time_us: 60,
        steps: &[],
    },
    Endpoint {
        service: "currency",
        protocol: Protocol::Grpc,
        name: "oteldemo.CurrencyService/GetSupportedCurrencies",
        self_time_us: 40,
        steps: &[],
    },
    Endpoint {
        service: "payment",
        protocol: Protocol::Grpc,
        name: "oteldemo.PaymentService/Charge",
        self_time_us: 2_500,
        steps: &[Step::Fail {
            per_mille: 60,
            exception: "UnsupportedCardError",
            message: "Credit card info is invalid: card 4432-8015-6152-0454 expired",
        }],
    },
    Endpoint {
        service: "shipping",
        protocol: Protocol::Http,
        name: "POST /get-quote",
        self_time_us: 300,
        steps: &[Step::Call { endpoint: QUOTE_GET, repeat: 1 }],
    },
    Endpoint {
        service: "shipping",
        protocol: Protocol::Http,
        name: "POST /ship-order",
        self_time_us: 400,
        steps: &[],
    },
    Endpoint {
        service: "quote",
        protocol: Protocol::Http,
        name: "POST /getquote",
        self_time_us: 700,
        steps: &[Step::Internal { name: "calculate-quote" }],
    },
    Endpoint {
        service: "email",
        protocol: Protocol::Http,
        name: "POST /send_order_confirmation",
        self_time_us: 3_000,
        steps: &[
            Step::Internal { name: "render-template" },
            Step::Fail {
                per_mille: 20,
                exception: "Net::SMTPServerBusy",
                message: "421 4.7.0 Try again later, closing connection (id 7731)",
            },
        ],
    },
    Endpoint {
        service: "recommendation",
        protocol: Protocol::Grpc,
        name: "oteldemo.RecommendationService/ListRecommendations",
        self_time_us: 1_100,
        steps: &[
            Step::Call { endpoint: CATALOG_LIST, repeat: 1 },
            Step::Internal { name: "get_product_list" },
        ],
    },
    Endpoint {
        service: "ad",
        protocol: Protocol::Grpc,
        name: "oteldemo.AdService/GetAds",
        self_time_us: 500,
        steps: &[Step::Fail {
            per_mille: 25,
            exception: "java.lang.IllegalStateException",
            message: "ad service cache not loaded for category 7",
        }],
    },
    Endpoint {
        service: "accounting",
        protocol: Protocol::Grpc,
        name: "orders process",
        self_time_us: 900,
        steps: &[Step::Query {
            system: "postgresql",
            namespace: "accounting",
            operation: "INSERT",
            table: "orders",
            statement: "INSERT INTO orders (order_id, user_id, total_units, total_nanos, currency) VALUES ($1, $2, $3, $4, $5)",
        }],
    },
    Endpoint {
        service: "fraud-detection",
        protocol: Protocol::Grpc,
        name: "orders process",
        self_time_us: 1_500,
        steps: &[],
    },
];

/// Requests users make, with their share of traffic in percent.
pub const ENTRY_POINTS: &[(usize, u32)] = &[
    (FRONTEND_HOME, 30),
    (FRONTEND_PRODUCT, 35),
    (FRONTEND_ADD_TO_CART, 15),
    (FRONTEND_VIEW_CART, 12),
    (FRONTEND_CHECKOUT, 8),
];

/// The service's index in [`SERVICES`].
pub fn service_index(name: &str) -> usize {
    SERVICES.iter().position(|s| s.name == name).unwrap_or(0)
}
