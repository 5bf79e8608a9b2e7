//! A real browser (headless Chromium through chromedriver) using the app as a
//! person would.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::test_id_number;
use aixin::domain::{Role, Username};
use aixin::users::{self, Assignment, InitialPassword};
use fantoccini::{Client, ClientBuilder, Locator};

use crate::helpers::*;

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find_program(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
}

/// Start chromedriver and a headless Chromium, or None (skipped) when they
/// are not installed.
pub async fn start_browser(test: &str) -> Option<Browser> {
    start_browser_sized(test, 1280, 900).await
}

/// A browser whose window is `width` x `height` (a phone: 390 x 844).
pub async fn start_browser_sized(test: &str, width: u32, height: u32) -> Option<Browser> {
    let driver_path = std::env::var("AIXIN_CHROMEDRIVER")
        .ok()
        .or_else(|| find_program(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]));
    let chrome_path = std::env::var("AIXIN_CHROMIUM").ok().or_else(|| {
        find_program(&[
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ])
    });
    let (Some(driver_path), Some(chrome_path)) = (driver_path, chrome_path) else {
        skip(test, "Chromium and chromedriver");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new(&driver_path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chrome_path,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--no-first-run", format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let caps = match caps {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    };
    let mut last_err = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    driver,
                    _profile: profile,
                });
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    panic!("chromedriver did not start a browser: {last_err}");
}

impl Browser {
    /// The element `css` names (the test fails, naming it, when none does).
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// Click something that changes the page in place (no new page).
    pub async fn tap(&self, css: &str) {
        self.element(css).await.click().await.unwrap();
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.element(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Click something that loads a new page, and wait until it has.
    pub async fn click(&self, css: &str) {
        let old_page = self.client.find(Locator::Css("html")).await.unwrap();
        self.element(css).await.click().await.unwrap();
        for _ in 0..200 {
            if old_page.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.client
            .wait()
            .for_element(Locator::Css("footer"))
            .await
            .unwrap_or_else(|e| panic!("the page after clicking {css} did not load: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    /// Type into a field (ending with Enter, say) and wait for the next page.
    pub async fn type_and_wait(&self, css: &str, text: &str) {
        let old_page = self.client.find(Locator::Css("html")).await.unwrap();
        self.element(css).await.send_keys(text).await.unwrap();
        for _ in 0..200 {
            if old_page.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.client
            .wait()
            .for_element(Locator::Css("footer"))
            .await
            .unwrap();
    }

    pub async fn login(&self, app: &TestApp, username: &str) {
        self.client.goto(&app.url("/login")).await.unwrap();
        self.fill("#username", username).await;
        self.fill("#password", PASSWORD).await;
        self.click("#login").await;
    }

    /// Click `css` with the print dialog caught (`window.print` replaced)
    /// and check that the click asked for it exactly once.
    pub async fn click_to_print(&self, css: &str) {
        self.client
            .execute(
                "window.__prints = 0; window.print = () => { window.__prints += 1; };",
                vec![],
            )
            .await
            .unwrap();
        self.tap(css).await;
        let prints = self
            .client
            .execute("return window.__prints;", vec![])
            .await
            .unwrap();
        assert_eq!(prints, serde_json::json!(1), "{css} prints once");
    }

    /// Lay the page out as printed (`print`) or on screen again.
    pub async fn emulate_print(&self, print: bool) {
        self.client
            .issue_cmd(DevTools(serde_json::json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"media": if print { "print" } else { "" }}
            })))
            .await
            .unwrap();
    }

    /// Laid out as printed, check that none of `hidden` is on the paper and
    /// each of `kept` is (the page stays in print layout).
    pub async fn assert_printed(&self, hidden: &[&str], kept: &[&str]) {
        self.emulate_print(true).await;
        for (list, want) in [(hidden, false), (kept, true)] {
            for css in list {
                let script = format!(
                    "const e = document.querySelector({css:?}); return e ? e.getClientRects().length > 0 : null;"
                );
                let shown = self.client.execute(&script, vec![]).await.unwrap();
                assert_eq!(shown, serde_json::json!(want), "{css} printed: {shown}");
            }
        }
    }

    /// Whether a stylesheet of the page asks for A4 pages (`@page { size: A4 }`).
    pub async fn asks_for_a4(&self) -> bool {
        self.client
            .execute(
                "return [...document.styleSheets].some(s => [...s.cssRules].some(r =>
                    r instanceof CSSMediaRule && [...r.cssRules].some(p => p instanceof CSSPageRule && /A4/i.test(p.style.size))
                    || r instanceof CSSPageRule && /A4/i.test(r.style.size)));",
                vec![],
            )
            .await
            .unwrap()
            == serde_json::json!(true)
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

app_test! {
    async fn a_person_logs_in_changes_language_and_logs_out(app) {
        let Some(b) = start_browser("a_person_logs_in_changes_language_and_logs_out").await else { return };
        let generated = {
            let mut c = app.conn();
            let (_, pw) = users::create(
                &mut c,
                &aixin::auth::Actor::console(),
                app.config.password_cost,
                &Username::parse("admin").unwrap(),
                "",
                &Assignment { role: Role::Admin, area_id: None, store_id: None },
                InitialPassword::Generate,
            )
            .unwrap();
            pw.unwrap()
        };
        b.client.goto(&app.url("/")).await.unwrap();
        assert_eq!(b.path().await, "/login");
        b.fill("#username", "admin").await;
        b.fill("#password", &generated).await;
        b.click("#login").await;
        assert_eq!(b.path().await, "/password", "a generated password must be changed first");
        b.fill("input[name=current]", &generated).await;
        b.fill("input[name=new]", "my own passphrase").await;
        b.fill("input[name=confirm]", "my own passphrase").await;
        b.click("form[action='/password'] button").await;
        assert_eq!(b.path().await, "/");
        assert!(b.text("#welcome").await.contains("您好"));

        b.click(".langswitch button[value=en]").await;
        assert!(b.text("#welcome").await.contains("Hello"));
        assert!(b.text(".mainnav").await.contains("Households"));

        b.click("#logout").await;
        assert_eq!(b.path().await, "/login");
        assert!(b.text(".flash-ok").await.contains("logged out"));
        b.client.goto(&app.url("/users")).await.unwrap();
        assert_eq!(b.path().await, "/login", "after logout the pages are closed");
        b.close().await;
    }
}

/// A small XLSX file of households, as officials keep them in Excel.
fn households_xlsx(village: &str, ids: &[String]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet();
    for (c, h) in [
        "户主姓名",
        "身份证号",
        "联系电话",
        "所属村",
        "家庭人口",
        "户类型",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (i, id) in ids.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, format!("导入户{i}")).unwrap();
        sheet.write_string(r, 1, id).unwrap();
        sheet.write_number(r, 2, 13900139000.0 + i as f64).unwrap();
        sheet.write_string(r, 3, village).unwrap();
        sheet.write_number(r, 4, 3.0).unwrap();
        sheet.write_string(r, 5, "监测户").unwrap();
    }
    // A row Excel spoilt: the ID number stored as a number.
    let r = ids.len() as u32 + 1;
    sheet.write_string(r, 0, "数字户").unwrap();
    sheet.write_number(r, 1, 370102199001011000.0).unwrap();
    sheet.write_string(r, 3, village).unwrap();
    sheet.write_number(r, 4, 2.0).unwrap();
    wb.save_to_buffer().unwrap()
}

app_test! {
    async fn an_official_imports_a_list_finds_a_household_by_card_and_prints_it(app) {
        let Some(b) = start_browser("an_official_imports_a_list_finds_a_household_by_card_and_prints_it").await else { return };
        let [_, _, _, village] = app.area_chain("济阳");
        app.user("official", Role::Official, Some(&village), None);
        let ids: Vec<String> = (0..3).map(|_| test_id_number()).collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("名单.xlsx");
        std::fs::write(&file, households_xlsx("济阳村", &ids)).unwrap();

        b.login(&app, "official").await;
        b.client.goto(&app.url("/households/import")).await.unwrap();
        b.client
            .find(Locator::Css("#file"))
            .await
            .unwrap()
            .send_keys(&file.display().to_string())
            .await
            .unwrap();
        b.click("#upload").await;
        // The page follows the check's progress by itself.
        b.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("#job[data-state=checked]"))
            .await
            .expect("the check finishes");
        assert_eq!(b.text("#n-create").await, "3");
        assert_eq!(b.text("#n-refused").await, "1");
        assert!(b.text("#refusals").await.contains("Excel"), "the spoilt row says why");
        b.click("#confirm").await;
        b.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("#job[data-state=done]"))
            .await
            .expect("the import finishes");

        // Find the second household by its card number, typed like a scanner.
        let card: String = {
            use aixin::db::schema::{households, points_cards};
            use diesel::prelude::*;
            points_cards::table
                .inner_join(households::table)
                .filter(households::head_name.eq("导入户1"))
                .select(points_cards::card_no)
                .first(&mut app.conn())
                .unwrap()
        };
        b.client.goto(&app.url("/households")).await.unwrap();
        b.fill("#q", &card).await;
        b.click("#search").await;
        assert!(b.path().await.starts_with("/households/"));
        assert_eq!(b.text("#household-name").await, "导入户1");
        assert!(!b.client.source().await.unwrap().contains(&ids[1]), "the ID number is masked");
        b.click("#print-card").await;
        assert!(b.text(".points-card .card-no").await.replace(' ', "").contains(&card));
        let pdf = b
            .client
            .print(fantoccini::wd::PrintConfiguration::default())
            .await
            .expect("the card prints");
        assert!(pdf.starts_with(b"%PDF"), "a real PDF comes out of the print stylesheet");
        b.close().await;
    }
}

app_test! {
    async fn an_award_goes_from_proposal_through_review_to_the_statement(app) {
        let Some(b) = start_browser("an_award_goes_from_proposal_through_review_to_the_statement").await else { return };
        let [_, _, _, village] = app.area_chain("历下");
        app.user("guan", Role::Official, Some(&village), None);
        app.user("shen", Role::Reviewer, Some(&village), None);
        app.rule("H01", "庭院整洁", 3, Some((1, "month")));
        let (household, card) = app.household_with_id("周家", &village, &test_id_number());

        b.login(&app, "guan").await;
        // The official finds the household by its card and proposes.
        b.client.goto(&app.url("/awards/new")).await.unwrap();
        b.fill("#card", &card).await;
        b.click("form[action='/awards/new'] button").await;
        b.client
            .find(Locator::Css("#rule"))
            .await
            .unwrap()
            .select_by_value("H01")
            .await
            .unwrap();
        b.click("#propose").await;
        assert_eq!(b.path().await, format!("/households/{household}"));
        assert!(b.text("#awards").await.contains("待审核"));
        b.click("#logout").await;

        b.login(&app, "shen").await;
        b.client.goto(&app.url("/review")).await.unwrap();
        assert!(b.text("#queue").await.contains("周家"));
        b.click("#queue button[name=approve_one]").await;
        assert!(b.text(".flash-ok").await.contains("已处理 1 项"));
        b.client.goto(&app.url(&format!("/households/{household}/statement"))).await.unwrap();
        let statement = b.text("#statement").await;
        assert!(statement.contains("庭院整洁") && statement.contains("+3"), "{statement}");
        assert_eq!(b.text("#closing").await, "3");
        b.close().await;
    }
}

app_test! {
    async fn a_clerk_redeems_by_keyboard_alone(app) {
        let Some(b) = start_browser("a_clerk_redeems_by_keyboard_alone").await else { return };
        let [_, _, town, village] = app.area_chain("扫码");
        let store = app.store("扫码超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        {
            let mut c = app.conn();
            let ctx = aixin::auth::Actor::console();
            let rice = aixin::goods::create(&mut c, &ctx, &aixin::goods::ItemForm { name: "大米", category: "粮油", unit: "袋", points_price: "40", barcode: "6900000000011" }).unwrap().id;
            let oil = aixin::goods::create(&mut c, &ctx, &aixin::goods::ItemForm { name: "酱油", category: "调味", unit: "瓶", points_price: "8", barcode: "6900000000028" }).unwrap().id;
            let donor = crate::stock::donor(&mut c, "扫码捐赠");
            crate::stock::donate(&mut c, &store, &donor, &[(rice.as_str(), 5), (oil.as_str(), 5)]);
        }
        let (household, card) = app.household_with_id("扫码户", &village, &test_id_number());
        crate::counter::fund(&app, &household, 100);
        b.login(&app, "clerk").await;
        b.client.goto(&app.url("/counter")).await.unwrap();
        // A scanner types the number and Enter.
        let enter = fantoccini::key::Key::Enter.to_string();
        b.type_and_wait("#card", &format!("{card}{enter}")).await;
        assert_eq!(b.text("#balance").await, "100");
        b.type_and_wait("#entry", &format!("6900000000011{enter}")).await;
        b.type_and_wait("#entry", &format!("6900000000028{enter}")).await;
        assert_eq!(b.text("#total").await, "48");
        // Enter on the empty field: the receipt.
        b.type_and_wait("#entry", &enter).await;
        assert!(b.path().await.starts_with("/redemptions/"));
        assert_eq!(b.text("#receipt-total").await, "48");
        assert_eq!(b.text("#receipt-after").await, "52");
        let pdf = b.client.print(fantoccini::wd::PrintConfiguration::default()).await.unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        assert_eq!(crate::counter::balance(&app, &household), 52);
        b.close().await;
    }
}

/// A Chromium DevTools command sent through chromedriver.
#[derive(Debug)]
pub struct DevTools(pub serde_json::Value);

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

app_test! {
    async fn the_monthly_summary_prints_as_an_official_document(app) {
        let Some(b) = start_browser("the_monthly_summary_prints_as_an_official_document").await else { return };
        let [_, district, _, village] = app.area_chain("打印");
        for i in 0..30 {
            let h = app.household(&format!("打印户{i}"), &village);
            fund(&mut app.conn(), &h, 10 + i);
        }
        app.user("zhang", Role::Admin, None, None);
        b.login(&app, "zhang").await;
        let month = aixin::reports::Month::of(aixin::time::today(chrono_tz::Asia::Shanghai));
        b.client
            .goto(&app.url(&format!("/reports/monthly?month={month}&area_id={district}")))
            .await
            .unwrap();
        assert!(b.text("#p-closing").await.contains(&(0..30).map(|i| 10 + i).sum::<i64>().to_string()));

        // One click prints (the browser's print dialog, here caught).
        b.click_to_print("[data-print]").await;

        // In print: no navigation, forms or buttons; the header names the
        // area, month, time and person; the chart and the signature lines show.
        b.assert_printed(
            &[".topbar", "[data-print]", "form.filters"],
            &[".report-meta", ".report-signatures", "#monthly-report svg", "#breakdown"],
        )
        .await;
        let meta = b.text(".report-meta").await;
        assert!(meta.contains("打印区") && meta.contains(&month.to_string()) && meta.contains("zhang"), "{meta}");
        let signatures = b.text(".report-signatures").await;
        assert!(signatures.contains("制表人") && signatures.contains("审核人"), "{signatures}");
        // The stylesheet asks for A4 pages.
        assert!(b.asks_for_a4().await);

        // And the browser really makes the pages: a PDF, A4, at least one page.
        let pdf = b.client
            .print(fantoccini::wd::PrintConfiguration::builder().build().unwrap())
            .await
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
        let text = String::from_utf8_lossy(&pdf);
        let pages = text.matches("/Type /Page\n").count() + text.matches("/Type /Page/").count() + text.matches("/Type /Page ").count();
        assert!(pages >= 1, "no pages in the PDF");
        b.close().await;
    }
}

app_test! {
    /// #16.4/#18.2: a print button opens the print dialog once per click.
    async fn a_print_button_prints_once_per_click(app) {
        let Some(b) = start_browser("a_print_button_prints_once_per_click").await else { return };
        let [_, _, town, _] = app.area_chain("打印");
        let store = app.store("打印超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        b.login(&app, "clerk").await;
        b.client.goto(&app.url("/counter/day")).await.unwrap();
        b.client
            .execute("window.__prints = 0; window.print = function () { window.__prints += 1; }; return 0;", vec![])
            .await
            .unwrap();
        for _ in 0..2 {
            b.client.find(Locator::Css("[data-print]")).await.unwrap().click().await.unwrap();
        }
        let n = b.client.execute("return window.__prints;", vec![]).await.unwrap();
        assert_eq!(n, serde_json::json!(2), "one dialog per click");
        b.close().await;
    }
}

/// The pages of a PDF (its page objects, not the page tree's `/Pages`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let needle = b"/Type /Page";
    let mut n = 0;
    let mut i = 0;
    while i + needle.len() < pdf.len() {
        if &pdf[i..i + needle.len()] == needle {
            if pdf[i + needle.len()] != b's' {
                n += 1;
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

/// A household's PIN as printed on its card.
fn pin_of(app: &TestApp, card: &str) -> String {
    aixin::households::card_pin(&mut app.conn(), &app.key, card)
        .unwrap()
        .expect("a card with a PIN")
}

app_test! {
    /// #19, done when: on a phone-sized screen, a household opens its card's
    /// address, sees its points and shelf, reports a deed with a photo; the
    /// official turns it into an award, the reviewer approves it looking at
    /// the photo; it is on the notice, masked; a neighbour objects, the
    /// reviewer decides; the month's honour roll prints on one A4 page.
    async fn a_household_on_a_phone_reports_a_deed_that_ends_on_the_notice(app) {
        use aixin::db::schema::{awards as awards_t, deed_photos, deed_reports, notice_objections};
        use diesel::prelude::*;
        let Some(b) = start_browser_sized("a_household_on_a_phone_reports_a_deed_that_ends_on_the_notice", 390, 844).await else { return };
        let [_, _, town, village] = app.area_chain("手机");
        let store = app.store("手机村爱心超市", &town);
        let official = app.user("ph-official", Role::Official, Some(&village), None);
        app.user("ph-reviewer", Role::Reviewer, Some(&village), None);
        let console = aixin::auth::Actor::console();
        aixin::settings::set(&mut app.conn(), &console, aixin::settings::NOTICE_DAYS, 7).unwrap();
        aixin::settings::set(&mut app.conn(), &console, aixin::settings::EXPIRY_MONTHS, 12).unwrap();
        app.rule("PH1", "清扫村道", 10, None);
        let goods = crate::stock::seed(&app, &store);
        let _ = goods;
        let today = aixin::time::today(chrono_tz::Asia::Shanghai);
        // Twenty neighbours already on this month's roll: the poster is full.
        aixin::settings::set(&mut app.conn(), &console, aixin::settings::REVIEW_REQUIRED, 0).unwrap();
        for i in 0..20 {
            let h = app.household(&format!("邻居{i:02}号"), &village);
            let ctx = aixin::auth::Actor::console();
            let who = Who { user_id: official.clone(), role: Role::Official, scope: aixin::auth::Scope::All };
            let p = aixin::points::awards::parse_proposal("PH1", &today.to_string(), "", today).unwrap();
            aixin::points::awards::propose(&mut app.conn(), &who.actor(&ctx), &crate::helpers::hid(&h), &p, &format!("ph-{i}"), today).unwrap();
        }
        aixin::settings::set(&mut app.conn(), &console, aixin::settings::REVIEW_REQUIRED, 1).unwrap();
        let (mine, my_card) = app.household_with_id("张三丰", &village, &test_id_number());
        let (_, their_card) = app.household_with_id("李四光", &village, &test_id_number());
        fund(&mut app.conn(), &mine, 30);

        // The card's address, the PIN: balance, history, expiry, the shelf.
        b.client.goto(&app.url(&format!("/h/{my_card}"))).await.unwrap();
        b.fill("#pin", &pin_of(&app, &my_card)).await;
        b.click("#open").await;
        assert_eq!(b.path().await, "/h");
        assert_eq!(b.text("#balance").await, "30");
        assert!(!b.text("#history").await.is_empty());
        assert!(b.text("#expiring").await.contains("30"));
        assert!(b.text("body").await.contains("大米5kg"));
        let (page, screen) = (
            b.client.execute("return document.documentElement.scrollWidth;", vec![]).await.unwrap(),
            b.client.execute("return window.innerWidth;", vec![]).await.unwrap(),
        );
        assert!(page.as_i64().unwrap() <= screen.as_i64().unwrap(), "the household's page fits the phone: {page} > {screen}");

        // A deed reported with a photo straight from a phone (EXIF and GPS in it).
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("IMG_0001.jpg");
        std::fs::write(&photo, aixin::window::photo::with_exif(&aixin::window::photo::sample_jpeg(2000, 1500))).unwrap();
        b.client.find(Locator::Css("#report-rule option[value='PH1']")).await.unwrap().click().await.unwrap();
        b.fill("#report-note", "扫了村东头的路").await;
        b.client.find(Locator::Css("#report-photo")).await.unwrap().send_keys(&photo.display().to_string()).await.unwrap();
        b.click("#report-send").await;
        assert!(b.text(".flash").await.contains("已提交申报"));
        assert!(b.text("#my-reports").await.contains("清扫村道"));
        let (report_id, photo_id, jpeg): (String, String, Vec<u8>) = deed_photos::table
            .inner_join(deed_reports::table)
            .select((deed_reports::id, deed_photos::id, deed_photos::jpeg))
            .first(&mut app.conn())
            .unwrap();
        assert!(!aixin::window::photo::has_metadata(&jpeg), "the stored photo has no EXIF");
        assert!(!jpeg.windows(3).any(|w| w == b"GPS"));

        // The official turns it into an award.
        b.login(&app, "ph-official").await;
        b.client.goto(&app.url("/deeds")).await.unwrap();
        b.click(&format!("#award-{report_id}")).await;
        assert!(b.text(".flash").await.contains("已转为积分申报"));
        let award_id: String = awards_t::table
            .filter(awards_t::household_id.eq(&mine))
            .select(awards_t::id)
            .first(&mut app.conn())
            .unwrap();
        b.client.delete_all_cookies().await.unwrap();

        // The reviewer approves it with the photo beside it.
        b.login(&app, "ph-reviewer").await;
        b.client.goto(&app.url("/review")).await.unwrap();
        let shown = b.client
            .execute(
                &format!("const i = document.querySelector('img[src=\"/deeds/photos/{photo_id}\"]'); return i ? i.complete && i.naturalWidth : 0;"),
                vec![],
            )
            .await
            .unwrap();
        assert!(shown.as_i64().unwrap_or(0) > 0, "the photo is shown beside the award: {shown}");
        b.click(&format!("button[name=approve_one][value='{award_id}']")).await;
        let status: String = awards_t::table.find(&award_id).select(awards_t::status).first(&mut app.conn()).unwrap();
        assert_eq!(status, "noticed");

        // On the village's notice, masked.
        b.client.goto(&app.url("/public/notice")).await.unwrap();
        b.client.find(Locator::Css(&format!("#pick-village option[value='{village}']"))).await.unwrap().click().await.unwrap();
        b.click("#pick-show").await;
        let notice = b.text("#notice-awards").await;
        assert!(notice.contains("张*丰") && !notice.contains("张三丰"), "{notice}");

        // A neighbour objects from its own page.
        b.client.goto(&app.url(&format!("/h/{their_card}"))).await.unwrap();
        b.fill("#pin", &pin_of(&app, &their_card)).await;
        b.click("#open").await;
        let entry = format!("li[data-award='{award_id}']");
        b.fill(&format!("{entry} input[name=reason]"), "那天路是我扫的").await;
        b.click(&format!("{entry} button")).await;
        assert!(b.text(".flash").await.contains("异议已提交"));

        // The reviewer upholds it: back in review; the notice says so.
        let oid: String = notice_objections::table.select(notice_objections::id).first(&mut app.conn()).unwrap();
        b.client.goto(&app.url("/objections")).await.unwrap();
        b.click(&format!("#uphold-{oid}")).await;
        assert!(b.text(".flash").await.contains("异议成立"));
        let status: String = awards_t::table.find(&award_id).select(awards_t::status).first(&mut app.conn()).unwrap();
        assert_eq!(status, "pending");
        b.client.goto(&app.url(&format!("/public/notice/{village}"))).await.unwrap();
        assert!(b.text("#notice-objections").await.contains("异议成立"));

        // The month's honour roll, twenty names, on one A4 page.
        let month = aixin::reports::Month::of(today);
        b.client.goto(&app.url(&format!("/public/honours/{village}?month={month}"))).await.unwrap();
        assert_eq!(b.client.find_all(Locator::Css("#honours li")).await.unwrap().len(), 20);
        let pdf = b.client
            .print(fantoccini::wd::PrintConfiguration::builder().shrink_to_fit(false).build().unwrap())
            .await
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(pdf_pages(&pdf), 1, "the honour roll prints on one A4 page");
        b.close().await;
    }
}

app_test! {
    async fn a_clerk_finds_a_household_by_name_when_the_card_is_left_at_home(app) {
        let Some(b) = start_browser("a_clerk_finds_a_household_by_name").await else { return };
        let [_, _, town, village] = app.area_chain("忘卡");
        let store = app.store("忘卡超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        let id_number = test_id_number();
        let (household, _) = app.household_with_id("王大山", &village, &id_number);
        app.household_with_id("王小山", &village, &test_id_number());
        crate::counter::fund(&app, &household, 30);
        b.login(&app, "clerk").await;
        b.client.goto(&app.url("/counter")).await.unwrap();
        let enter = fantoccini::key::Key::Enter.to_string();
        // A name nobody has: the message, and the text selected for the next try.
        b.type_and_wait("#card", &format!("王大海{enter}")).await;
        assert!(b.text("#counter-error").await.contains("王大海"));
        let selected = b
            .client
            .execute("var e = document.getElementById('card'); return document.activeElement === e && e.selectionStart === 0 && e.selectionEnd === e.value.length && e.value.length > 0;", vec![])
            .await
            .unwrap();
        assert_eq!(selected, serde_json::json!(true), "the failed text is selected");
        // Typing replaces it: the head's name finds the household, shown with village and masked ID.
        b.type_and_wait("#card", &format!("大山{enter}")).await;
        assert_eq!(b.text("#found .found-name").await, "王大山");
        let row = b.text("#found tbody tr").await;
        assert!(row.contains("忘卡村") && row.contains(&format!("{}********{}", &id_number[..6], &id_number[14..])), "{row}");
        b.click("#found a.button").await;
        assert_eq!(b.text("#household-name").await, "王大山");
        assert_eq!(b.text("#balance").await, "30");
        b.close().await;
    }
}

app_test! {
    /// #20, done when: an auditor opens the month's integrity signals of the
    /// planted demo city, prints the report (A4, signature lines, no forms)
    /// and downloads its XLSX, which names a planted subject.
    async fn an_auditor_prints_the_integrity_report_and_downloads_it(app) {
        use aixin::demo::{DEMO_PASSWORD, DemoSize, city};
        use aixin::db::schema::{areas, users as users_t};
        use calamine::Reader;
        use diesel::prelude::*;
        let Some(b) = start_browser("an_auditor_prints_the_integrity_report_and_downloads_it").await else { return };
        let tz = app.config.time_zone;
        let (logins, _, planted) = city::fill_with(
            &mut app.conn(),
            &app.key,
            app.config.password_cost,
            DemoSize { households: 800, months: 4, seed: 3 },
            tz,
            city::FillOptions { plant: true, now: aixin::db::now() },
            &mut |_, _, _| {},
        )
        .unwrap();
        let month = planted[0].month;
        let city_id: String = areas::table
            .filter(areas::level.eq("city"))
            .select(areas::id)
            .first(&mut app.conn())
            .unwrap();
        let clerk = &planted.iter().find(|p| p.kind == aixin::signals::Kind::ClerkVoids).unwrap().subject;
        let clerk_name: String = users_t::table.find(clerk).select(users_t::username).first(&mut app.conn()).unwrap();

        b.client.goto(&app.url("/login")).await.unwrap();
        b.fill("#username", &logins.auditor).await;
        b.fill("#password", DEMO_PASSWORD).await;
        b.click("#login").await;
        b.client.goto(&app.url(&format!("/signals?month={month}&area={city_id}"))).await.unwrap();
        b.client
            .find(Locator::Css(&format!("#signal-clerk_voids tr[data-subject=\"{clerk}\"]")))
            .await
            .unwrap_or_else(|e| panic!("the planted clerk is not on the page: {e}"));

        // One click prints (the dialog, here caught).
        b.click_to_print("#print-signals").await;

        // In print: no navigation, filters, buttons or mark forms; the header
        // and the signature lines show; the pages are A4.
        b.assert_printed(
            &[".topbar", "#print-signals", "#signals-xlsx", "form.filters", "form.inline-mark"],
            &[".report-meta", ".report-signatures", "#signals-summary", "#signal-clerk_voids", "svg.sparkline"],
        )
        .await;
        let meta = b.text(".report-meta").await;
        assert!(meta.contains(&month.to_string()) && meta.contains(&logins.auditor), "{meta}");
        let signatures = b.text(".report-signatures").await;
        assert_eq!(signatures.matches("＿＿＿＿＿＿＿＿").count(), 3, "{signatures}");
        assert!(b.asks_for_a4().await, "the print stylesheet asks for A4");
        let pdf = b.client
            .print(
                fantoccini::wd::PrintConfiguration::builder()
                    .size(fantoccini::wd::PrintSize::A4)
                    .shrink_to_fit(false)
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let pages = pdf_pages(&pdf);
        assert!((1..=30).contains(&pages), "{pages} A4 pages");
        b.emulate_print(false).await;

        // The XLSX, downloaded as a person would, names the planted clerk on
        // the sheet of their signal.
        let downloads = tempfile::tempdir().unwrap();
        b.client
            .issue_cmd(DevTools(serde_json::json!({
                "cmd": "Page.setDownloadBehavior",
                "params": {"behavior": "allow", "downloadPath": downloads.path().to_str().unwrap()}
            })))
            .await
            .unwrap();
        b.client.find(Locator::Css("#signals-xlsx")).await.unwrap().click().await.unwrap();
        let mut file = None;
        for _ in 0..200 {
            file = std::fs::read_dir(downloads.path())
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "xlsx"));
            if file.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let file = file.expect("the XLSX was downloaded");
        assert!(file.file_name().unwrap().to_string_lossy().starts_with(&format!("signals-{month}-")));
        let mut book: calamine::Xlsx<_> = calamine::open_workbook(&file).unwrap();
        // (The sheet is named in the page's language.)
        let sheet = [aixin::i18n::Lang::Zh, aixin::i18n::Lang::En]
            .into_iter()
            .map(|l| aixin::i18n::t(l, "signals.kind_clerk_voids").to_string())
            .find(|n| book.sheet_names().contains(n))
            .unwrap_or_else(|| panic!("no sheet of the clerk's signal: {:?}", book.sheet_names()));
        let range = book.worksheet_range(&sheet).unwrap();
        assert!(
            range.rows().any(|r| r.iter().any(|c| c.to_string() == clerk_name)),
            "{clerk_name} is not in the sheet"
        );
        b.close().await;
    }
}
