//! Stack traces as real tracers send them, read into frames that stay the same between deploys,
//! hosts and builds, so the top frames can go into an error's fingerprint.
//!
//! Recognised, line by line: Python tracebacks (`File "…", line N, in f`, innermost last), JVM
//! (`at com.x.Y.m(Y.java:42)`), .NET (`at N.C.M(String s) in /p/C.cs:line 42`), Node.js
//! (`at f (/app/x.js:10:5)`, `at /app/x.js:10:5`), Go panics (`pkg.f(...)` then
//! `\t/path/f.go:42 +0x1d`), Ruby (`/app/x.rb:42:in 'm'`) and PHP
//! (`#0 /app/src/Cart.php(42): App\Cart->add()`). A frame keeps its function and its
//! module (class or package where the language names one, otherwise the file name without
//! directory and extension); line and column numbers, addresses, argument lists, lambda and
//! closure numbers and directories are dropped. Where one trace holds several exceptions (Java
//! `Caused by:`, .NET inner exceptions, Python's chained tracebacks) the frames of the exception
//! the span reports are kept: the outermost for JVM and .NET, the last traceback for Python.

use std::fmt;

/// One call in a stack trace, normalised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StackFrame {
    /// Class, package or file (without directory and extension) the function belongs to.
    pub module: String,
    /// The function or method, without arguments and generated numbering.
    pub function: String,
    /// Whether the frame is the application's own code, rather than the language runtime's or a
    /// dependency's (`site-packages`, `node_modules`, `java.*`, Go's standard library, gems).
    pub in_app: bool,
}

impl fmt::Display for StackFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.module.is_empty() {
            f.write_str(&self.function)
        } else {
            write!(f, "{}:{}", self.module, self.function)
        }
    }
}

/// Every frame recognised in `trace`, innermost (where the error was raised) first.
pub fn parse_frames(trace: &str) -> Vec<StackFrame> {
    let mut frames = Vec::new();
    let mut python_frames: Vec<StackFrame> = Vec::new();
    let mut saw_python = false;
    let mut lines = trace.lines().peekable();
    let mut outer_done = false;
    let mut go_goroutines = 0;
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.starts_with("Traceback (most recent call last)") {
            saw_python = true;
            python_frames.clear();
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("File \"") {
            if let Some(frame) = python_frame(rest) {
                saw_python = true;
                python_frames.push(frame);
            }
            continue;
        }
        if trimmed.starts_with("goroutine ") && trimmed.ends_with(':') {
            go_goroutines += 1;
            if go_goroutines > 1 {
                break;
            }
            continue;
        }
        if outer_done {
            continue;
        }
        if trimmed.starts_with("Caused by:") || trimmed.starts_with("Suppressed:") {
            outer_done = true;
            continue;
        }
        if trimmed.starts_with("--- End of inner exception stack trace ---") {
            // .NET writes the inner exception's frames first; the outer's follow this line.
            frames.clear();
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("at ") {
            if let Some(frame) = at_frame(rest) {
                frames.push(frame);
            }
            continue;
        }
        if let Some(frame) = ruby_frame(trimmed).or_else(|| php_frame(trimmed)) {
            frames.push(frame);
            continue;
        }
        if go_goroutines <= 1
            && let Some(next) = lines.peek()
            && next.starts_with('\t')
            && next.contains(".go:")
        {
            if let Some(frame) = go_frame(trimmed) {
                frames.push(frame);
            }
            lines.next();
        }
    }
    if saw_python && frames.is_empty() {
        python_frames.reverse();
        return python_frames;
    }
    frames
}

/// The first `n` application frames, innermost first; all frames when none is the application's.
pub fn top_frames(trace: &str, n: usize) -> Vec<StackFrame> {
    let frames = parse_frames(trace);
    if frames.iter().any(|f| f.in_app) {
        frames.into_iter().filter(|f| f.in_app).take(n).collect()
    } else {
        frames.into_iter().take(n).collect()
    }
}

/// The file name without directory and extension: `/app/src/cart.js` → `cart`.
fn file_stem(path: &str) -> &str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// Drops trailing digits of generated names: `lambda$main$0` → `lambda$main$`, `func1` → `func`.
fn strip_generated_numbers(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let previous = if start == 0 { None } else { Some(chars[start - 1]) };
            let generated = match previous {
                Some('$' | '.' | '_' | '/' | '#') | None => true,
                Some(p) if p.is_ascii_alphabetic() => {
                    let word_start = chars[..start]
                        .iter()
                        .rposition(|c| !c.is_ascii_alphanumeric())
                        .map_or(0, |p| p + 1);
                    let word: String = chars[word_start..start].iter().collect();
                    matches!(
                        word.as_str(),
                        "func" | "lambda" | "Lambda" | "anon" | "block" | "closure"
                    )
                }
                _ => false,
            };
            if !generated {
                out.extend(&chars[start..i]);
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// `"/app/shop/cart.py", line 42, in add_item` (after `File "`).
fn python_frame(rest: &str) -> Option<StackFrame> {
    let (path, after) = rest.split_once('"')?;
    let function = after.rsplit_once(", in ").map_or("<module>", |(_, f)| f.trim());
    let library = ["site-packages", "dist-packages", "/lib/python", "<frozen ", "\\lib\\"];
    Some(StackFrame {
        module: file_stem(path).to_owned(),
        function: function.to_owned(),
        in_app: !library.iter().any(|marker| path.contains(marker)),
    })
}

/// What follows `at ` in JVM, .NET and Node.js traces.
fn at_frame(rest: &str) -> Option<StackFrame> {
    let rest = rest.trim();
    if let Some(open) = rest.find('(') {
        let inside =
            rest[open + 1..].rsplit_once(')').map_or(&rest[open + 1..], |(inside, _)| inside);
        let before = rest[..open].trim();
        if is_jvm_location(inside) && !before.contains(' ') {
            return Some(jvm_frame(before));
        }
        // Node.js writes spaces before the location (`async f`, `new C`, `f [as g]`) and names
        // runtime locations; .NET never has a space in the method name.
        if before.contains(' ') || is_js_runtime_location(inside) {
            return Some(node_frame(before, inside));
        }
        let dotnet_location = rest.contains(" in ") && rest.contains(":line ");
        if dotnet_location || is_dotnet_arguments(inside) {
            return Some(dotnet_frame(before));
        }
        return Some(node_frame(before, inside));
    }
    // Node.js without a function name: `at /app/x.js:10:5`, `at node:internal/x:1:2`.
    Some(node_frame("<anonymous>", rest))
}

/// `Y.java:42`, `Native Method`, `Unknown Source`, `Y.kt`, `Y.scala:7`.
fn is_jvm_location(inside: &str) -> bool {
    let file = inside.split(':').next().unwrap_or(inside);
    matches!(inside, "Native Method" | "Unknown Source")
        || [".java", ".kt", ".scala", ".groovy", ".clj"].iter().any(|ext| file.ends_with(ext))
}

/// `String s, Int32 n` or empty: the argument list .NET writes.
fn is_dotnet_arguments(inside: &str) -> bool {
    inside.is_empty() || !inside.contains('/') && !inside.contains(':')
}

/// Where Node.js runs code of its own: `native`, `<anonymous>`, `index 0` (in `Promise.all`).
fn is_js_runtime_location(inside: &str) -> bool {
    inside == "native" || inside == "<anonymous>" || inside.starts_with("index ")
}

/// `com.shop.cart.CartService.lambda$add$0` (JVM frame, location removed).
fn jvm_frame(qualified: &str) -> StackFrame {
    // Module-qualified frames (Java 9+): `app//com.x.Y.m` or `java.base/java.lang.Thread.run`.
    // Hidden classes carry their address after a slash: `Foo$$Lambda$14/0x0000000800c03000.run`.
    let mut name = qualified.to_owned();
    if let Some(at) = name.find("/0x") {
        let end = name[at..].find('.').map_or(name.len(), |dot| at + dot);
        name.replace_range(at..end, "");
    }
    let name = name.rsplit_once('/').map_or(name.as_str(), |(_, name)| name);
    let qualified = strip_generated_numbers(name);
    let (class, method) = qualified.rsplit_once('.').unwrap_or(("", qualified.as_str()));
    // Generated classes: `Foo$$Lambda$14/0x0000000800c03000`, `Foo$$EnhancerBySpringCGLIB$$1a2b`.
    let class = class.split("$$").next().unwrap_or(class);
    let runtime = ["java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala."];
    StackFrame {
        module: class.to_owned(),
        function: method.to_owned(),
        in_app: !runtime.iter().any(|prefix| class.starts_with(prefix)),
    }
}

/// `Shop.Cart.CartService.<AddAsync>d__4.MoveNext` (location and arguments removed).
fn dotnet_frame(qualified: &str) -> StackFrame {
    let mut name = qualified.trim().to_owned();
    // Async state machines: `<AddAsync>d__4.MoveNext` → `AddAsync`.
    if let Some(open) = name.find('<')
        && let Some(close) = name[open..].find('>')
        && name[open + close..].contains("MoveNext")
    {
        let method = name[open + 1..open + close].to_owned();
        name = format!("{}{}", &name[..open], method);
    }
    // Generic arity and lambda numbering: `Method[T]`, `<Main>b__0_0`.
    if let Some(open) = name.find('[') {
        name.truncate(open);
    }
    let name = strip_generated_numbers(&name);
    let (class, method) = name.rsplit_once('.').unwrap_or(("", name.as_str()));
    let runtime = ["System.", "Microsoft.", "Internal."];
    StackFrame {
        module: class.trim_end_matches('.').to_owned(),
        function: method.to_owned(),
        in_app: !runtime.iter().any(|prefix| class.starts_with(prefix)),
    }
}

/// Node.js: `async Object.handle [as run]`, location `/app/src/x.js:10:5`.
fn node_frame(function: &str, location: &str) -> StackFrame {
    let mut function = function.trim();
    for prefix in ["async ", "new "] {
        function = function.strip_prefix(prefix).unwrap_or(function);
    }
    let function = function.split(" [as ").next().unwrap_or(function).trim();
    // `file:///app/x.js:10:5`, `/app/x.js:10`, `node:internal/x:1:2`: drop the line and column.
    let mut path = location.trim();
    for _ in 0..2 {
        if let Some((head, tail)) = path.rsplit_once(':')
            && !tail.is_empty()
            && tail.bytes().all(|b| b.is_ascii_digit())
        {
            path = head;
        }
    }
    // Locations without a file name are the runtime's: `native`, `<anonymous>`, `index 0` (in
    // `Promise.all`).
    let library = path.starts_with("node:")
        || path.starts_with("internal/")
        || path.contains("node_modules")
        || !path.contains('.');
    StackFrame {
        module: file_stem(path).to_owned(),
        function: strip_generated_numbers(function),
        in_app: !library,
    }
}

/// Go: `github.com/acme/shop/cart.(*Cart).Add(0xc000010000, {0x1, 0x2})` or `main.main.func1()`.
fn go_frame(call: &str) -> Option<StackFrame> {
    let call = call.strip_prefix("created by ").unwrap_or(call);
    let call = call.split(" in goroutine ").next().unwrap_or(call);
    let name = match call.rfind('(') {
        Some(open) if call.ends_with(')') || call.ends_with("...)") => &call[..open],
        _ => call,
    };
    if name.is_empty() {
        return None;
    }
    let name = strip_generated_numbers(name);
    let last_slash = name.rfind('/').map_or(0, |at| at + 1);
    let (package, function) = match name[last_slash..].find('.') {
        Some(dot) => (&name[..last_slash + dot], &name[last_slash + dot + 1..]),
        None => ("", name.as_str()),
    };
    let first_segment = package.split('/').next().unwrap_or(package);
    let in_app = package == "main" || first_segment.contains('.');
    Some(StackFrame { module: package.to_owned(), function: function.to_owned(), in_app })
}

/// Ruby: `/app/models/order.rb:42:in 'Order#charge'` (Ruby 3.4 quotes) or ``…:in `charge'``,
/// possibly after `from `.
fn ruby_frame(line: &str) -> Option<StackFrame> {
    let line = line.strip_prefix("from ").unwrap_or(line);
    let (location, method) = line.split_once(":in ")?;
    let path = location.rsplit_once(':').map_or(location, |(path, _)| path);
    if !(path.ends_with(".rb") || path.starts_with("<internal:")) {
        return None;
    }
    let method = method.trim_start_matches(['`', '\'']);
    let method = method.split('\'').next().unwrap_or(method);
    // `block (2 levels) in charge` → `block in charge`; `rescue in`/`ensure in` kept.
    let method = match method.split_once(" levels) in ") {
        Some((head, tail)) if head.starts_with("block (") => format!("block in {tail}"),
        _ => method.to_owned(),
    };
    let library = ["/gems/", "/lib/ruby/", "<internal:", "/vendor/bundle/"];
    Some(StackFrame {
        module: file_stem(path).to_owned(),
        function: method,
        in_app: !library.iter().any(|marker| path.contains(marker)),
    })
}

/// PHP: `#0 /app/src/Cart.php(42): App\Cart->add('x', 2)`, or `#3 [internal function]: f()`.
fn php_frame(line: &str) -> Option<StackFrame> {
    let rest = line.strip_prefix('#')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let rest = rest[digits..].strip_prefix(' ').filter(|_| digits > 0)?;
    let (location, call) = rest.split_once(": ")?;
    let path = location.split_once('(').map_or(location, |(path, _)| path);
    let function = call.split_once('(').map_or(call, |(function, _)| function).trim();
    // `App\Cart->add` or `App\Cart::add`: the class is the module.
    let (module, function) = match function.rsplit_once("->").or_else(|| function.rsplit_once("::"))
    {
        Some((class, method)) => (class.to_owned(), method.to_owned()),
        None => (file_stem(path).to_owned(), function.to_owned()),
    };
    let library = path.contains("/vendor/") || path.starts_with('[');
    Some(StackFrame { module, function: strip_generated_numbers(&function), in_app: !library })
}

#[cfg(test)]
mod tests;
