//! The layers point one way: pages and the API on top, the domain areas in
//! the middle, the database and pure types at the bottom. A use of an upper
//! layer from a lower one fails here, naming the file and line.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Lines of files under `src/{folder}` that name any of `forbidden`
/// (comments aside).
fn uses(folder: &str, forbidden: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let dir = src.join(folder);
    let files = if dir.is_dir() {
        rust_files(&dir)
    } else {
        vec![src.join(format!("{folder}.rs"))]
    };
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if forbidden.iter().any(|f| code.contains(f)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

/// The domain areas and the layers under them: none knows of pages or the API.
const BELOW_THE_WEB: &[&str] = &[
    "areas",
    "at_once",
    "audit",
    "auth",
    "backup",
    "config",
    "crypto",
    "db",
    "demo",
    "domain",
    "donations",
    "error",
    "goods",
    "households",
    "i18n",
    "idempotency",
    "ledger",
    "operations",
    "points",
    "redemptions",
    "reports",
    "settings",
    "signals",
    "state",
    "stock",
    "stores",
    "time",
    "users",
    "window",
];

#[test]
fn the_api_uses_no_page_code() {
    let found = uses("api", &["crate::web", "web::pages", "super::super::web"]);
    assert!(
        found.is_empty(),
        "the API imports from the pages:\n{}",
        found.join("\n")
    );
}

#[test]
fn domain_areas_use_neither_pages_nor_the_api() {
    let mut found = Vec::new();
    for folder in BELOW_THE_WEB {
        found.extend(uses(
            folder,
            &["crate::web", "crate::api", "crate::server", "crate::cli"],
        ));
    }
    assert!(
        found.is_empty(),
        "a domain area imports from a layer above it:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_ledger_uses_no_reports() {
    let found = uses("ledger", &["crate::reports", "reports::"]);
    assert!(
        found.is_empty(),
        "the ledger imports from the reports:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_domain_types_need_no_database_and_no_framework() {
    let found = uses("domain", &["diesel", "actix_web", "crate::db"]);
    assert!(
        found.is_empty(),
        "domain types depend on the database or the framework:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_folder_of_src_is_placed_in_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let placed: Vec<&str> = BELOW_THE_WEB
        .iter()
        .copied()
        .chain([
            "api",
            "web",
            "server",
            "cli",
            "lib",
            "main",
            "request",
            "static_files",
        ])
        .collect();
    let mut unplaced = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if !placed.contains(&name.as_str()) {
            unplaced.push(name);
        }
    }
    assert!(
        unplaced.is_empty(),
        "add these to a layer in tests/app/layers.rs: {unplaced:?}"
    );
}

#[test]
fn every_page_reads_its_query_through_filter() {
    // `web::Query` answers a field sent twice or a value that does not
    // read with a bare 400; a page's filter is read with
    // `web::extract::Filter`, which brings it back on the page (422).
    let found = uses("web", &["web::Query<", "actix_web::web::Query", "Query::<"]);
    assert!(
        found.is_empty(),
        "pages reading their query with web::Query:\n{}",
        found.join("\n")
    );
}

/// The page handlers (`fn` items at the top of a file under
/// `src/web/pages`) that take a form: the file and function, the form's
/// parameter name, its type and the body.
fn form_handlers() -> Vec<(String, String, String, String)> {
    let pages = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/pages");
    let mut out = Vec::new();
    for file in rust_files(&pages) {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i];
            if !(l.starts_with("pub async fn ") || l.starts_with("async fn ")) {
                i += 1;
                continue;
            }
            let name = l
                .split("fn ")
                .nth(1)
                .unwrap_or("")
                .split(['(', '<'])
                .next()
                .unwrap_or("");
            let mut signature = String::new();
            while i < lines.len() && !lines[i].ends_with('{') {
                signature.push_str(lines[i]);
                i += 1;
            }
            signature.push_str(lines.get(i).copied().unwrap_or(""));
            let mut body = String::new();
            i += 1;
            while i < lines.len() && lines[i] != "}" {
                body.push_str(lines[i].split("//").next().unwrap_or(""));
                body.push('\n');
                i += 1;
            }
            for param in signature.split(',') {
                if let Some((param_name, ty)) = param.split_once(": ") {
                    let param_name = param_name.rsplit(['(', ' ']).next().unwrap_or("").trim();
                    if ty.contains("CsrfForm<") {
                        out.push((
                            format!("{}: {name}", file.display()),
                            param_name.to_string(),
                            ty.trim().to_string(),
                            body.clone(),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Whether a handler's body (`body`, spaces taken out) refuses a field sent
/// twice: the form's second part reaches `check` or `run`, or the form is
/// read as pairs whose repeats are found (`SentTwice::among`), or the form
/// goes whole to another handler (checked there).
fn refuses_sent_twice(form: &str, body: &str) -> bool {
    let b: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let checked = b.contains(&format!("{form}.checked()")) || b.contains("CsrfForm::checked");
    let ignored = [",_)=", ",_twice)="]
        .iter()
        .any(|p| b.contains(&format!("{p}{form}.checked()")));
    let consulted = b.contains(".check()")
        || b.contains(".run(&state")
        || b.contains("SentTwice::among(")
        || b.contains(&format!("&{form}.1"))
        || b.contains("&twice");
    let handed_on = b.contains(&format!(",{form})")) || b.contains(&format!("({form})"));
    (checked && consulted && !ignored) || (!checked && handed_on)
}

#[test]
fn every_page_form_is_read_with_its_sent_twice_check() {
    let handlers = form_handlers();
    assert!(
        handlers.len() > 50,
        "the handlers are found: {}",
        handlers.len()
    );
    let mut unchecked = Vec::new();
    for (at, form, ty, body) in &handlers {
        let fine = if form.starts_with('_') {
            // A form never read has no field to send twice.
            ty.contains("Empty>")
        } else {
            refuses_sent_twice(form, body)
        };
        if !fine {
            unchecked.push(format!("{at} ({form}: {ty})"));
        }
    }
    assert!(
        unchecked.is_empty(),
        "a handler reads its form without refusing a field sent twice \
         (`form.checked()`, then the second part's `run` or `check`): {unchecked:#?}"
    );
    // The form is reached only through `checked`: its parts are private.
    let extract =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/extract.rs"))
            .unwrap();
    assert!(extract.contains("pub struct CsrfForm<T>(T, SentTwice);"));
    // The check itself can fail.
    assert!(!refuses_sent_twice(
        "form",
        "let (f, _) = form.checked(); run(&state, f).await"
    ));
    assert!(!refuses_sent_twice(
        "form",
        "let f = form.checked().0; web::run(&state, f)"
    ));
    assert!(refuses_sent_twice(
        "form",
        "let (f, twice) = form.checked(); twice.run(&state, f)"
    ));
}
