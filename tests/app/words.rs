//! Words that mean what they say: a village read from above town level
//! carries its town in pickers, refusals and imports; every section of the
//! monthly export sits under its own header, one record per row; the audit
//! log reads as sentences in the reader's language; a page links only to
//! what its reader may open; each language keeps its own punctuation.

use std::collections::HashMap;
use std::io::Cursor;

use aixin::db::schema::{households, stock_movements};
use aixin::domain::Role;
use aixin::reports::Month;
use calamine::{Data, Reader, Xlsx};
use diesel::prelude::*;

use crate::exports::csv_records;
use crate::helpers::*;
use crate::import::{upload, wait_job};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A district with two towns, a 东庄村 in each and a 西庄村 in the first:
/// (district, 东庄村 of 凤山街道, 东庄村 of 龙洞街道, 西庄村).
fn two_towns(app: &TestApp) -> (String, String, String, String) {
    let city = app.area(None, "济南市");
    let district = app.area(Some(&city), "历城区");
    let fengshan = app.area(Some(&district), "凤山街道");
    let longdong = app.area(Some(&district), "龙洞街道");
    let a = app.area(Some(&fengshan), "东庄村");
    let b = app.area(Some(&longdong), "东庄村");
    let west = app.area(Some(&fengshan), "西庄村");
    (district, a, b, west)
}

app_test! {
    async fn a_village_read_from_above_town_level_carries_its_town_in_pickers_and_refusals(app) {
        let (_, a, b, _) = two_towns(&app);
        let admin = app.admin().await;
        // The signals page's area picker: two different choices.
        let page = admin.get("/signals").await;
        assert_eq!(page.status, 200);
        page.assert_contains("东庄村（凤山街道）</option>");
        page.assert_contains("东庄村（龙洞街道）</option>");
        // A household put into a village outside one's own: the refusal
        // says which 东庄村.
        app.user("dz-off", Role::Official, Some(&a), None);
        let official = app.client();
        official.login("dz-off", PASSWORD).await;
        let page = official.submit("/households", &[
            ("head_name", "越界户"), ("id_number", &test_id_number()), ("area_id", &b), ("members", "2"),
        ]).await;
        page.assert_contains("“东庄村（龙洞街道）”不在您的负责范围内");
        // An area still in use: the refusal says which 东庄村 too.
        app.user("dz-off-b", Role::Official, Some(&b), None);
        let page = admin.submit(&format!("/areas/{b}/delete"), &[]).await;
        page.assert_contains("“东庄村（龙洞街道）”下还有");
    }
}

app_test! {
    async fn an_import_takes_a_village_as_the_app_shows_it_and_lists_the_choices_of_a_shared_name(app) {
        let (district, a, b, west) = two_towns(&app);
        app.user("dz-imp", Role::Official, Some(&district), None);
        let official = app.client();
        official.login("dz-imp", PASSWORD).await;
        let mut file = String::from("户主姓名,身份证号,联系电话,所属村,家庭住址,家庭人口,户类型\n");
        file.push_str(&format!("甲,{},,东庄村（凤山街道）,一组,3,监测户\n", test_id_number()));
        file.push_str(&format!("乙,{},,东庄村(龙洞街道),二组,3,监测户\n", test_id_number()));
        file.push_str(&format!("丙,{},,西庄村,三组,3,监测户\n", test_id_number()));
        file.push_str(&format!("丁,{},,东庄村,四组,3,监测户\n", test_id_number()));
        let up = upload(&official, "同名.csv", file.into_bytes()).await;
        assert_eq!(up.status, 303, "{}", up.body);
        let job = up.location.unwrap();
        let page = wait_job(&official, &job).await;
        page.assert_contains("id=\"n-create\">3<");
        page.assert_contains("id=\"n-refused\">1<");
        // The shared bare name is refused with the choices, as they may be written.
        page.assert_contains("有多个名为“东庄村”的村：东庄村（凤山街道） · 东庄村（龙洞街道）");
        // The preview names each village with its town.
        page.assert_contains("甲（东庄村（凤山街道））");
        page.assert_contains("乙（东庄村（龙洞街道））");
        page.assert_contains("丙（西庄村（凤山街道））");
        assert_eq!(official.post(&format!("{job}/confirm"), &[]).await.status, 303);
        let page = wait_job(&official, &job).await;
        page.assert_contains("data-state=\"done\"");
        let created = page.body.split("id=\"created\"").nth(1).expect("the new households").split("</table>").next().unwrap().to_string();
        assert!(created.contains("东庄村（凤山街道）") && created.contains("东庄村（龙洞街道）"), "{created}");
        let placed: Vec<(String, String)> = households::table
            .select((households::head_name, households::area_id))
            .load(&mut app.conn())
            .unwrap();
        for (name, village) in [("甲", &a), ("乙", &b), ("丙", &west)] {
            assert!(placed.contains(&(name.to_string(), village.clone())), "{name}: {placed:?}");
        }
    }
}

/// A section of the monthly CSV: its name, header and rows.
type Section = (String, Vec<String>, Vec<Vec<String>>);

/// The sections of the monthly CSV after its title row: each opens with a
/// record of one cell (its name), then its header.
fn csv_sections(records: &[Vec<String>]) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut i = 1;
    while i < records.len() {
        let r = &records[i];
        if r.iter().all(String::is_empty) {
            i += 1;
            continue;
        }
        if r.len() == 1 {
            out.push((r[0].clone(), records[i + 1].clone(), Vec::new()));
            i += 2;
            continue;
        }
        out.last_mut()
            .expect("a section before its rows")
            .2
            .push(r.clone());
        i += 1;
    }
    out
}

/// The columns of a section that hold text: the first, and the goods'
/// names and the quiet households' villages and months.
fn text_columns(section: &str) -> &'static [usize] {
    match section {
        "各超市物品进出" => &[0, 1],
        "无活动农户" => &[0, 1, 2],
        _ => &[0],
    }
}

app_test! {
    async fn every_section_of_the_monthly_export_has_one_record_per_row_under_its_own_header(app) {
        let [city, _, town, village] = app.area_chain("分节");
        let store = app.store("分节超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let h = app.household("兑换户", &village);
        crate::counter::redeem_for_test(&app, &store, &h, &goods.items[0]);
        // Registered half a year ago, and never active since.
        let quiet = app.household("从未户", &village);
        diesel::update(households::table.find(&quiet))
            .set(households::created_at.eq(aixin::db::now() - chrono::Duration::days(180)))
            .execute(&mut app.conn())
            .unwrap();
        let month = Month::of(aixin::time::today(TZ));
        let admin = app.admin().await;
        let path = format!("/reports/monthly.csv?month={month}&area_id={city}");
        let res = admin.http.get(format!("{}{path}", admin.base)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let records = csv_records(&res.bytes().await.unwrap());
        let sections = csv_sections(&records);
        let names: Vec<&str> = sections.iter().map(|s| s.0.as_str()).collect();
        for wanted in ["积分", "农户", "无活动农户", "兑换", "各超市物品进出", "捐赠", "主要捐赠方"] {
            assert!(names.contains(&wanted), "{wanted} in {names:?}");
        }
        for (name, header, rows) in &sections {
            assert!(header.len() >= 2 && header.iter().all(|h| !h.is_empty()), "{name}: {header:?}");
            for row in rows {
                assert_eq!(row.len(), header.len(), "{name}: {row:?} under {header:?}");
                assert!(!row[0].trim().is_empty(), "{name}: {row:?}");
                for (c, cell) in row.iter().enumerate() {
                    if !text_columns(name).contains(&c) && !cell.is_empty() {
                        assert!(cell.parse::<f64>().is_ok(), "{name}: {} is a number, not {cell:?}", header[c]);
                    }
                }
            }
        }
        let section = |n: &str| sections.iter().find(|s| s.0 == n).unwrap();
        // The quiet households: one a row, "never" a word.
        let (_, header, rows) = section("无活动农户");
        assert_eq!(header, &["户主姓名", "村", "最近活动"]);
        assert!(rows.iter().any(|r| r == &["从未户", "分节村（分节镇）", "从未"]), "{rows:?}");
        // Donors under the donors' header, not the donor kinds'.
        let (_, header, rows) = section("主要捐赠方");
        assert_eq!(header[0], "捐赠方");
        assert!(rows.iter().any(|r| r[0] == "爱心粮油公司"), "{rows:?}");
        assert!(!section("捐赠").2.iter().any(|r| r[0] == "爱心粮油公司"));
        assert!(!section("农户").2.iter().any(|r| r[0].contains("从未户")));

        // The workbook: the same sections, a sheet each, numbers as numbers.
        let path = format!("/reports/monthly.xlsx?month={month}&area_id={city}");
        let res = admin.http.get(format!("{}{path}", admin.base)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(res.bytes().await.unwrap().to_vec())).unwrap();
        let by_name: HashMap<&str, &Section> = sections.iter().map(|s| (s.0.as_str(), s)).collect();
        let sheets = wb.sheet_names().to_vec();
        assert_eq!(sheets.len(), sections.len(), "{sheets:?}");
        for sheet in sheets {
            let (name, header, rows) = by_name.get(sheet.as_str()).copied().unwrap_or_else(|| panic!("{sheet}"));
            let range = wb.worksheet_range(&sheet).unwrap();
            let cell = |r: usize, c: usize| range.get_value((r as u32, c as u32)).cloned().unwrap_or(Data::Empty);
            for (c, h) in header.iter().enumerate() {
                assert_eq!(cell(2, c).to_string(), *h, "{name}");
            }
            assert!(matches!(cell(2, header.len()), Data::Empty), "{name}: the header ends with its columns");
            for (i, row) in rows.iter().enumerate() {
                let r = 3 + i;
                assert!(matches!(cell(r, header.len()), Data::Empty), "{name}: row {r} runs past its header");
                for (c, text) in row.iter().enumerate() {
                    let got = cell(r, c);
                    if text.is_empty() {
                        assert!(matches!(got, Data::Empty), "{name}: {got:?}");
                    } else if text_columns(name).contains(&c) {
                        assert!(matches!(got, Data::String(_)), "{name}: {got:?}");
                    } else {
                        assert!(matches!(got, Data::Float(_) | Data::Int(_)), "{name}: {} as a number, not {got:?}", header[c]);
                    }
                }
            }
            assert!(matches!(cell(3 + rows.len(), 0), Data::Empty), "{name}: nothing below its rows");
        }
    }
}

app_test! {
    async fn the_audit_log_says_its_details_in_the_readers_language_and_a_month_close_its_month_and_areas(app) {
        let [city, _, town, _] = app.area_chain("审读");
        let store = app.store("审读一店", &town);
        let other = app.store("审读二店", &town);
        let s = crate::stock::seed(&app, &store);
        let admin = app.admin().await;
        let shelf = admin.get(&format!("/stores/{store}")).await;
        let key = crate::stock::key_for(&shelf.body, &format!("/stores/{store}/moves"));
        admin.submit(&format!("/stores/{store}/moves"), &[("key", &key), ("item_id", &s.items[0]), ("quantity", "2"), ("to_store_id", &other)]).await.assert_contains("已调拨");
        let last = Month::of(aixin::time::today(TZ)).prev();
        admin.submit("/reports/close", &[("month", &last.to_string()), ("area_id", &city)]).await;
        let page = admin.get("/audit").await;
        assert_eq!(page.status, 200);
        page.assert_contains(&format!("月结了 <a href=\"/reports/monthly?month={last}\">{last}，所有地区</a>"));
        page.assert_contains("大米5kg 2 调往 审读二店</a>");
        page.assert_contains("href=\"/movements/");
        page.assert_contains("新建了超市");
        for raw in ["&quot;d&quot;", " -> ", "by=", " x2"] {
            assert!(!page.body.contains(raw), "no raw detail {raw:?} on the page");
        }
        admin.post("/lang", &[("lang", "en"), ("back", "/audit")]).await;
        let page = admin.get("/audit").await;
        page.assert_contains(&format!("{last}, every area</a>"));
        page.assert_contains("大米5kg 2 moved to 审读二店</a>");
        // An older row, written before details had words, still shows as written.
        let d = aixin::audit::Detail::new("stock_move").arg("item", "米").arg("qty", 1).arg("to", "店");
        assert_eq!(aixin::audit::Detail::read(&d.to_string()), Some(d.clone()));
        assert_eq!(aixin::audit::Detail::read("米 x1 -> 店"), None);
        assert_eq!(d.say(aixin::i18n::Lang::Zh), "米 1 调往 店");
        // A value that looks like a placeholder stays as typed.
        let d = aixin::audit::Detail::new("number_reason").arg("number", "{reason}").arg("reason", "错");
        assert_eq!(d.say(aixin::i18n::Lang::En), "{reason}, reason: 错");
    }
}

app_test! {
    async fn a_clerk_reads_the_other_store_of_a_move_without_a_link_that_would_refuse(app) {
        let [_, _, town, _] = app.area_chain("调拨");
        let a = app.store("调出店", &town);
        let b = app.store("调入店", &town);
        let s = crate::stock::seed(&app, &a);
        app.user("clerk-b", Role::Clerk, None, Some(&b));
        let admin = app.admin().await;
        let shelf = admin.get(&format!("/stores/{a}")).await;
        let key = crate::stock::key_for(&shelf.body, &format!("/stores/{a}/moves"));
        admin.submit(&format!("/stores/{a}/moves"), &[("key", &key), ("item_id", &s.items[0]), ("quantity", "3"), ("to_store_id", &b)]).await.assert_contains("已调拨");
        let moved: String = stock_movements::table
            .filter(stock_movements::to_store_id.eq(&b))
            .select(stock_movements::id)
            .first(&mut app.conn())
            .unwrap();
        let clerk = app.client();
        clerk.login("clerk-b", PASSWORD).await;
        let page = clerk.get(&format!("/movements/{moved}")).await;
        assert_eq!(page.status, 200);
        page.assert_contains("调出店");
        assert!(!page.body.contains(&format!("href=\"/stores/{a}\"")), "no link to a store the clerk may not open");
        page.assert_contains(&format!("href=\"/stores/{b}\""));
        // The administrator, who may open both, has both linked.
        let page = admin.get(&format!("/movements/{moved}")).await;
        page.assert_contains(&format!("href=\"/stores/{a}\""));
        // Nothing the clerk reaches from there refuses.
        crate::office::follow_every_link(&clerk, "clerk", &[&format!("/movements/{moved}"), &format!("/stores/{b}/movements")]).await;
    }
}

/// A page's text (outside its tags).
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x9fff)
}

app_test! {
    async fn chinese_pages_use_chinese_colons_and_english_pages_english_punctuation(app) {
        let [city, _, town, village] = app.area_chain("标点");
        let store = app.store("标点超市", &town);
        let s = crate::stock::seed(&app, &store);
        let h = app.household("标点户", &village);
        // A household quiet since it was registered: the monthly summary
        // lists it with its village and town.
        let quiet = app.household("静默户", &village);
        crate::exports::registered_long_ago(&app, &quiet);
        crate::counter::redeem_for_test(&app, &store, &h, &s.items[0]);
        app.user("bd-clerk", Role::Clerk, None, Some(&store));
        let admin = app.admin().await;
        let month = Month::of(aixin::time::today(TZ));
        let pages = [
            "/".to_string(), format!("/stores/{store}"), format!("/stocktakes/{}", s.stocktake), "/operations".to_string(),
            format!("/households/{h}"), "/audit".to_string(), format!("/reports/monthly?month={month}&area_id={city}"),
            "/signals".to_string(), "/ledger/verify".to_string(), "/stores".to_string(), "/users".to_string(),
            format!("/stores/{store}/donations/new"), format!("/counter/day?store_id={store}"),
            // Villages named with their towns: lists, pickers.
            "/households".to_string(), "/households/new".to_string(), "/areas".to_string(),
            format!("/counter?store_id={store}&card={}", crate::counter::card_of(&app, &h)),
        ];
        let clerk = app.client();
        clerk.login("bd-clerk", PASSWORD).await;
        let mut seen = Vec::new();
        for (who, path) in pages.iter().map(|p| (&admin, p.clone())).chain([(&clerk, "/".to_string())]) {
            let page = who.get(&path).await;
            assert_eq!(page.status, 200, "{path}");
            let text: Vec<char> = text_of(&page.body).chars().collect();
            for w in text.windows(2) {
                assert!(!(is_cjk(w[0]) && w[1] == ':'), "{path}: an ASCII colon after {:?}", w[0]);
            }
            // Nor an ASCII bracket or comma set after Chinese text.
            for w in text.windows(3) {
                assert!(!(is_cjk(w[0]) && w[1] == ' ' && w[2] == '('), "{path}: an ASCII bracket after {:?}", w[0]);
                assert!(!(is_cjk(w[0]) && w[1] == ','), "{path}: an ASCII comma after {:?}", w[0]);
            }
            seen.push(path);
        }
        // The same pages in English: no Chinese punctuation at all; a
        // village named with its town takes ASCII brackets there,
        // "标点村 (标点镇)", never 标点村（标点镇）.
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        clerk.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let data = aixin::areas::display_name("标点村", Some("标点镇"), aixin::i18n::Lang::En);
        assert_eq!(data, "标点村 (标点镇)");
        let mut named = Vec::new();
        for (who, path) in seen.iter().map(|p| (&admin, p)).chain([(&clerk, &format!("/counter?card={}", crate::counter::card_of(&app, &h)))]) {
            let page = who.get(path).await;
            assert_eq!(page.status, 200, "{path}");
            if text_of(&page.body).contains(&data) {
                named.push(path.clone());
            }
            let text = text_of(&page.body).replace(&data, "");
            let odd: String = text.chars().filter(|c| matches!(*c as u32, 0x3000..=0x303f | 0xff00..=0xffef)).take(10).collect();
            assert!(odd.is_empty(), "{path} shows {odd:?} on an English page");
        }
        // The pages that name the village with its town did so in English.
        for path in ["/households", "/households/new"] {
            assert!(named.iter().any(|p| p == path), "{path} names no village with its town: {named:?}");
        }
        assert!(named.iter().any(|p| p.starts_with("/reports/monthly")), "the quiet household's village: {named:?}");
        assert!(named.iter().any(|p| p.starts_with("/counter?card")), "the clerk's counter: {named:?}");
    }
}

app_test! {
    /// An import's report is stored language-neutral and read in the
    /// reader's language: in English its villages carry their towns in
    /// English brackets, its choices too, with no full-width punctuation; a
    /// report stored before (villages as shown in Chinese) reads so too.
    async fn an_import_report_reads_in_the_readers_language(app) {
        use aixin::db::schema::import_jobs;
        let (district, _, _, _) = two_towns(&app);
        app.user("dz-en", Role::Official, Some(&district), None);
        let official = app.client();
        official.login("dz-en", PASSWORD).await;
        official.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let mut file = String::from("户主姓名,身份证号,联系电话,所属村,家庭住址,家庭人口,户类型\n");
        file.push_str(&format!("甲,{},,东庄村（凤山街道）,一组,3,监测户\n", test_id_number()));
        file.push_str(&format!("丁,{},,东庄村,四组,3,监测户\n", test_id_number()));
        let up = upload(&official, "en.csv", file.into_bytes()).await;
        assert_eq!(up.status, 303, "{}", up.body);
        let job = up.location.unwrap();
        let page = wait_job(&official, &job).await;
        let report = page.body.split("id=\"job\"").nth(1).expect("the report").to_string();
        page.assert_contains("东庄村 (凤山街道) · 东庄村 (龙洞街道)");
        page.assert_contains("东庄村 (凤山街道)");
        for wide in ['（', '）', '：', '，'] {
            assert!(!report.contains(wide), "{wide} in the English report:\n{report}");
        }
        // Chinese readers read the same stored report in their brackets.
        official.post("/lang", &[("lang", "zh-CN"), ("back", "/")]).await;
        let page = official.get(&job).await;
        page.assert_contains("甲（东庄村（凤山街道））");
        page.assert_contains("东庄村（凤山街道） · 东庄村（龙洞街道）");
        // A report stored before, its villages as shown in Chinese.
        let id = job.trim_start_matches("/households/import/").to_string();
        let stored: String = import_jobs::table.find(&id).select(import_jobs::report).first(&mut app.conn()).unwrap();
        let mut old: serde_json::Value = serde_json::from_str(&stored).unwrap();
        for s in old["sample_create"].as_array_mut().unwrap() {
            let shown = format!("{}（{}）", s["village"].as_str().unwrap(), s["town"].as_str().unwrap());
            s["village"] = shown.into();
            s.as_object_mut().unwrap().remove("town");
        }
        for e in old["refused"].as_array_mut().unwrap() {
            for a in e["args"].as_array_mut().unwrap() {
                if a[0] == "choices" {
                    a[1] = "东庄村（凤山街道） · 东庄村（龙洞街道）".into();
                }
            }
        }
        diesel::update(import_jobs::table.find(&id))
            .set(import_jobs::report.eq(old.to_string()))
            .execute(&mut app.conn())
            .unwrap();
        official.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let page = official.get(&job).await;
        assert_eq!(page.status, 200);
        page.assert_contains("东庄村 (凤山街道) · 东庄村 (龙洞街道)");
        page.assert_contains("东庄村 (凤山街道)");
        let report = page.body.split("id=\"job\"").nth(1).expect("the report").to_string();
        assert!(!report.contains('（'), "{report}");
    }
}
