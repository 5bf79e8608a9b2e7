//! A fuzz pass over the pages' POST forms: every form each role can reach by
//! following links from the home page is posted with odd values in every
//! field (empty, oversized, full-width, control and bidirectional characters,
//! numbers past i64, impossible dates, markup), with a valid session and CSRF
//! token. Nothing may answer 5xx.

use std::collections::{BTreeSet, VecDeque};

use aixin::domain::Role;

use crate::helpers::*;

/// What people and programs send that a form does not expect.
const ODD: &[&str] = &[
    "",
    " ",
    "０１２３４５６７８９",
    "１１０１０５１９４９１２３１００２Ｘ",
    "\u{200B}\u{FEFF}",
    "-9223372036854775808",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "-0",
    "2026-02-30",
    "9999-99-99",
    "<script>alert(1)</script>",
    "'; DROP TABLE households; --",
    "%00%ff",
    "\u{0}\u{7}\u{1b}[31m",
    "\u{202E}evil",
    "😀👨‍👩‍👧",
    "../../../etc/passwd",
    "=cmd|' /C calc'!A0",
];

/// A long value: 300 KB would be refused whole; 20,000 characters reach the
/// parsers.
fn long() -> String {
    "长".repeat(20_000)
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The value of attribute `name` in a tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// A POST form: its action and its fields (name, the value the page gave).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

/// The POST forms of a page.
fn forms(html: &str) -> Vec<Form> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        let after = &rest[start..];
        let end = after.find("</form>").unwrap_or(after.len());
        let body = &after[..end];
        rest = &after[end..];
        let head_end = body.find('>').unwrap_or(body.len());
        let head = &body[..head_end];
        if attr(head, "method").is_none_or(|m| !m.eq_ignore_ascii_case("post")) {
            continue;
        }
        let Some(action) = attr(head, "action") else {
            continue;
        };
        let mut fields = Vec::new();
        for kind in ["<input", "<select", "<textarea", "<button"] {
            let mut scan = body;
            while let Some(i) = scan.find(kind) {
                let tag_end = scan[i..].find('>').map(|e| i + e).unwrap_or(scan.len());
                let tag = &scan[i..tag_end];
                scan = &scan[tag_end..];
                if let Some(name) = attr(tag, "name") {
                    let value = if kind == "<select" {
                        attr(scan, "value").unwrap_or_default()
                    } else {
                        attr(tag, "value").unwrap_or_default()
                    };
                    fields.push((name, value));
                }
            }
        }
        out.push(Form { action, fields });
    }
    out
}

/// Links on a page to other pages of this site.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(" href=\"/") {
        let start = i + " href=\"".len();
        let end = rest[start..]
            .find('"')
            .map(|e| start + e)
            .unwrap_or(rest.len());
        let href = unescape(&rest[start..end]);
        rest = &rest[end..];
        if !href.starts_with("/static/") && !href.contains(".csv") && !href.contains(".xlsx") {
            out.push(href.split('#').next().unwrap_or("").to_string());
        }
    }
    out
}

/// Forms that end the session or the account under test: walked by other
/// tests, not fuzzed here.
fn skipped(action: &str) -> bool {
    ["/logout", "/password", "/disable", "/h/logout", "/lang"]
        .iter()
        .any(|s| action.ends_with(s))
}

/// Crawl from `/` as this client (at most `pages` pages), then post every
/// form found with each odd value in every field but the CSRF token.
async fn fuzz_as(c: &Client, pages: usize, who: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = [
        "/",
        "/h",
        "/awards",
        "/awards/review",
        "/counter",
        "/households",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    let mut found = BTreeSet::new();
    let mut failures = Vec::new();
    while let Some(path) = queue.pop_front() {
        if seen.len() >= pages || !seen.insert(path.clone()) {
            continue;
        }
        let page = c.get(&path).await;
        if page.status >= 500 {
            failures.push(format!("{who}: GET {path} -> {}", page.status));
        }
        for f in forms(&page.body) {
            if !skipped(&f.action) {
                found.insert(f);
            }
        }
        for l in links(&page.body) {
            // One of each kind of page is enough: numbers in paths vary.
            if !seen.contains(&l) && queue.len() < 400 {
                queue.push_back(l);
            }
        }
    }
    let long = long();
    let odd: Vec<&str> = ODD.iter().copied().chain([long.as_str()]).collect();
    for f in &found {
        for value in &odd {
            let fields: Vec<(&str, &str)> = f
                .fields
                .iter()
                .filter(|(n, _)| n != "csrf")
                .map(|(n, v)| {
                    // Keep the exactly-once key as the form gave it half the
                    // time, so the work itself is reached, not only the key check.
                    if n == "key" && value.len() % 2 == 0 {
                        (n.as_str(), v.as_str())
                    } else {
                        (n.as_str(), *value)
                    }
                })
                .collect();
            let page = c.post(&f.action, &fields).await;
            if page.status >= 500 {
                failures.push(format!(
                    "{who}: POST {} with {:?} -> {}",
                    f.action,
                    value.chars().take(40).collect::<String>(),
                    page.status
                ));
            }
        }
    }
    eprintln!(
        "fuzz_forms: {who}: {} pages, {} forms, {} posts",
        seen.len(),
        found.len(),
        found.len() * odd.len()
    );
    assert!(found.len() >= 2, "{who}: only {} forms found", found.len());
    failures
}

app_test! {
    async fn no_form_answers_5xx_to_odd_input(app) {
        let [_, _, town, village] = app.area_chain("模糊");
        let store = app.store("模糊超市", &town);
        let household = app.household("模糊户", &village);
        app.rule("F1", "模糊细则", 5, None);
        let goods = crate::stock::seed(&app, &store);
        crate::counter::redeem_for_test(&app, &store, &household, &goods.items[0]);
        let official = app.user("f-official", Role::Official, Some(&village), None);
        {
            // An award waiting for review, so the reviewer has forms too.
            use aixin::points::awards;
            use crate::helpers::Who;
            let mut c = app.conn();
            let ctx = aixin::auth::Actor::console();
            let who = Who { user_id: official, role: Role::Official, scope: aixin::auth::Scope::All };
            let today = aixin::time::today(chrono_tz::Asia::Shanghai);
            let p = awards::parse_proposal("F1", &today.to_string(), "", today).unwrap();
            awards::propose(&mut c, &who.actor(&ctx), &crate::helpers::hid(&household), &p, "fuzz-1", today).unwrap();
        }
        app.user("f-clerk", Role::Clerk, None, Some(&store));
        app.user("f-reviewer", Role::Reviewer, Some(&village), None);
        let mut failures = Vec::new();
        for (name, pages) in [("f-clerk", 40), ("f-official", 60), ("f-reviewer", 40), ("boss", 120)] {
            let c = if name == "boss" { app.admin().await } else {
                let c = app.client();
                c.login(name, PASSWORD).await;
                c
            };
            failures.extend(fuzz_as(&c, pages, name).await);
        }
        assert!(failures.is_empty(), "5xx answers:\n{}", failures.join("\n"));
    }
}
