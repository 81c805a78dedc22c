//! One test per stack format, with traces shaped as each runtime prints them.

use super::*;

fn shown(frames: &[StackFrame]) -> Vec<String> {
    frames.iter().map(ToString::to_string).collect()
}

#[test]
fn python_traceback_innermost_first_without_libraries() {
    // From the opentelemetry-python capture (testdata/tracers/python-otel-otlp-http-json).
    let trace = "Traceback (most recent call last):\n  File \"/work/main/interop/.venv/otel-otlp-json/lib/python3.11/site-packages/opentelemetry/trace/__init__.py\", line 602, in use_span\n    yield span\n  File \"/work/main/interop/python/_otel_trace.py\", line 135, in emit_traces\n    _check_coupon(\"SPRING24\")\n  File \"/work/main/interop/python/_otel_trace.py\", line 37, in _check_coupon\n    raise CouponExpired(f\"coupon {code} expired\")\n_otel_trace.CouponExpired: coupon SPRING24 expired\n";
    let all = parse_frames(trace);
    assert_eq!(
        shown(&all),
        ["_otel_trace:_check_coupon", "_otel_trace:emit_traces", "__init__:use_span"]
    );
    assert!(!all[2].in_app);
    assert_eq!(
        shown(&top_frames(trace, 5)),
        ["_otel_trace:_check_coupon", "_otel_trace:emit_traces"]
    );
}

#[test]
fn python_chained_tracebacks_keep_the_last() {
    let trace = "Traceback (most recent call last):\n  File \"/srv/app/db.py\", line 10, in fetch\n    row = cursor.fetchone()\nKeyError: 'id'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/srv/app/views.py\", line 42, in order_detail\n    order = load(order_id)\n  File \"/srv/app/orders.py\", line 7, in load\n    raise OrderNotFound(order_id)\norders.OrderNotFound: 12345\n";
    assert_eq!(shown(&parse_frames(trace)), ["orders:load", "views:order_detail"]);
}

#[test]
fn java_frames_of_the_outer_exception() {
    let trace = "java.lang.IllegalStateException: ad service cache not loaded for category 7\n\tat com.shop.ads.AdCache.lookup(AdCache.java:88)\n\tat com.shop.ads.AdService.lambda$getAds$0(AdService.java:41)\n\tat com.shop.ads.AdService$$Lambda$214/0x0000000800c4a440.apply(Unknown Source)\n\tat java.base/java.util.Optional.map(Optional.java:260)\n\tat com.shop.ads.AdService.getAds(AdService.java:40)\n\tat io.grpc.stub.ServerCalls$UnaryServerCallHandler$UnaryServerCallListener.onHalfClose(ServerCalls.java:182)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)\nCaused by: java.io.IOException: connection reset\n\tat com.shop.ads.Loader.read(Loader.java:12)\n\t... 6 more\n";
    let all = parse_frames(trace);
    assert_eq!(
        shown(&all),
        [
            "com.shop.ads.AdCache:lookup",
            "com.shop.ads.AdService:lambda$getAds$",
            "com.shop.ads.AdService:apply",
            "java.util.Optional:map",
            "com.shop.ads.AdService:getAds",
            "io.grpc.stub.ServerCalls$UnaryServerCallHandler$UnaryServerCallListener:onHalfClose",
            "java.lang.Thread:run",
        ]
    );
    assert_eq!(top_frames(trace, 5).len(), 5);
    assert!(top_frames(trace, 9).iter().all(|f| !f.module.starts_with("java.")));
}

#[test]
fn java_line_numbers_do_not_matter() {
    let a = "e\n\tat com.x.Y.m(Y.java:42)\n\tat com.x.Z.n(Z.java:7)";
    let b = "e\n\tat com.x.Y.m(Y.java:45)\n\tat com.x.Z.n(Z.java:9)";
    assert_eq!(parse_frames(a), parse_frames(b));
}

#[test]
fn node_frames_from_a_real_capture() {
    // From testdata/tracers/node-otel-otlp-http-json.
    let trace = "PaymentDeclinedError: card declined: insufficient funds\n    at emitTraces (/work/main/interop/node/lib/otel.js:113:15)\n    at run (/work/main/interop/node/lib/otel.js:168:19)\n    at Object.<anonymous> (/work/main/interop/node/otel-otlp-http-json.js:9:1)\n    at Module._compile (node:internal/modules/cjs/loader:1521:14)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:164:12)\n    at node:internal/main/run_main_module:28:49";
    let all = parse_frames(trace);
    assert_eq!(all.len(), 6);
    assert_eq!(
        shown(&top_frames(trace, 5)),
        ["otel:emitTraces", "otel:run", "otel-otlp-http-json:Object.<anonymous>"]
    );
    assert_eq!(all[4].function, "Function.executeUserEntryPoint");
    assert!(!all[5].in_app);
}

#[test]
fn node_async_anonymous_and_dependencies() {
    let trace = "TypeError: Cannot read properties of undefined (reading 'id')\n    at async CartController.add (/app/dist/cart/controller.js:57:21)\n    at /app/dist/cart/routes.js:12:5\n    at new Order (file:///app/dist/order.mjs:3:9)\n    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)";
    let all = parse_frames(trace);
    assert_eq!(
        shown(&all),
        [
            "controller:CartController.add",
            "routes:<anonymous>",
            "order:Order",
            "layer:Layer.handle"
        ]
    );
    assert!(!all[3].in_app);
}

#[test]
fn go_panic_of_the_first_goroutine() {
    let trace = "panic: runtime error: index out of range [5] with length 3\n\ngoroutine 42 [running]:\ngithub.com/acme/shop/cart.(*Cart).Item(0xc0000a6000, 0x5)\n\t/home/build/shop/cart/cart.go:42 +0x1d\ngithub.com/acme/shop/cart.Handler.func1({0x8e5c40, 0xc0000b2000}, 0xc0000c0000)\n\t/home/build/shop/cart/http.go:88 +0x9c\nnet/http.HandlerFunc.ServeHTTP(0xc0000a4000?, {0x8e5c40?, 0xc0000b2000?}, 0x0?)\n\t/usr/local/go/src/net/http/server.go:2171 +0x29\nmain.main()\n\t/home/build/shop/main.go:20 +0x65\n\ngoroutine 1 [IO wait]:\ninternal/poll.runtime_pollWait(0x7f, 0x72)\n\t/usr/local/go/src/runtime/netpoll.go:343 +0x85\n";
    let all = parse_frames(trace);
    assert_eq!(
        shown(&all),
        [
            "github.com/acme/shop/cart:(*Cart).Item",
            "github.com/acme/shop/cart:Handler.func",
            "net/http:HandlerFunc.ServeHTTP",
            "main:main",
        ]
    );
    assert!(!all[2].in_app);
    assert_eq!(top_frames(trace, 5).len(), 3);
}

#[test]
fn dotnet_frames_of_the_outer_exception() {
    let trace = "System.InvalidOperationException: cart 42 is closed\n ---> System.Collections.Generic.KeyNotFoundException: The given key '42' was not present in the dictionary.\n   at System.Collections.Generic.Dictionary`2.get_Item(TKey key)\n   at Shop.Cart.CartStore.Get(Int32 id) in /src/Shop/Cart/CartStore.cs:line 31\n   --- End of inner exception stack trace ---\n   at Shop.Cart.CartService.<AddAsync>d__4.MoveNext() in /src/Shop/Cart/CartService.cs:line 57\n--- End of stack trace from previous location ---\n   at System.Runtime.CompilerServices.TaskAwaiter.ThrowForNonSuccess(Task task)\n   at Shop.Api.CartController.Post(CartItem item) in C:\\build\\Shop\\Api\\CartController.cs:line 22\n";
    let all = parse_frames(trace);
    assert_eq!(
        shown(&all),
        [
            "Shop.Cart.CartService:AddAsync",
            "System.Runtime.CompilerServices.TaskAwaiter:ThrowForNonSuccess",
            "Shop.Api.CartController:Post",
        ]
    );
    assert_eq!(
        shown(&top_frames(trace, 5)),
        ["Shop.Cart.CartService:AddAsync", "Shop.Api.CartController:Post"]
    );
}

#[test]
fn ruby_backtrace_old_and_new_quotes() {
    let trace = "/app/app/models/order.rb:42:in 'Order#charge': card declined (Payments::Declined)\n\tfrom /app/app/controllers/orders_controller.rb:17:in `block (2 levels) in create'\n\tfrom /usr/local/bundle/gems/actionpack-7.1.3/lib/action_controller/metal/basic_implicit_render.rb:6:in `send_action'\n\tfrom <internal:kernel>:187:in 'loop'\n";
    let all = parse_frames(trace);
    assert_eq!(
        shown(&all),
        [
            "order:Order#charge",
            "orders_controller:block in create",
            "basic_implicit_render:send_action",
            "<internal:kernel>:loop",
        ]
    );
    assert_eq!(top_frames(trace, 5).len(), 2);
}

#[test]
fn php_frames() {
    let trace = "#0 /var/www/app/src/Cart/CartService.php(57): App\\Cart\\CartStore->get(42)\n#1 /var/www/app/src/Controller/CartController.php(22): App\\Cart\\CartService::add('sku-1', 2)\n#2 [internal function]: App\\Controller\\CartController->post(Object(Symfony\\Component\\HttpFoundation\\Request))\n#3 /var/www/app/vendor/symfony/http-kernel/HttpKernel.php(181): call_user_func_array(Array, Array)\n#4 {main}";
    let all = parse_frames(trace);
    assert_eq!(
        shown(&all),
        [
            "App\\Cart\\CartStore:get",
            "App\\Cart\\CartService:add",
            "App\\Controller\\CartController:post",
            "HttpKernel:call_user_func_array",
        ]
    );
    assert_eq!(top_frames(trace, 5).len(), 2);
}

#[test]
fn node_runtime_locations_are_not_the_application() {
    let trace = "Error: x\n    at async Promise.all (index 0)\n    at new Promise (<anonymous>)\n    at Array.map (native)";
    assert!(parse_frames(trace).iter().all(|frame| !frame.in_app));
    assert_eq!(parse_frames(trace)[0].function, "Promise.all");
}

#[test]
fn no_frames_in_plain_text() {
    assert!(parse_frames("something went wrong").is_empty());
    assert!(parse_frames("").is_empty());
    assert!(top_frames("KeyError: 'x'", 5).is_empty());
}

#[test]
fn generated_numbers_are_dropped_but_names_kept() {
    assert_eq!(strip_generated_numbers("lambda$main$0"), "lambda$main$");
    assert_eq!(strip_generated_numbers("main.func12"), "main.func");
    assert_eq!(strip_generated_numbers("sha256sum"), "sha256sum");
    assert_eq!(strip_generated_numbers("http2Client.dial"), "http2Client.dial");
}
