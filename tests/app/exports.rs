//! Exports people can open: the monthly summary as CSV (one record per row,
//! a title row, numbers as numbers, a file named by area and month) and as
//! XLSX (money as numbers, columns wide enough); the store summary within
//! reach; month close only where it can be done.

use std::io::Cursor;

use aixin::domain::Role;
use aixin::reports::Month;
use calamine::{Data, Reader, Xlsx};

use crate::helpers::*;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// The bytes and headers of a download.
async fn download(client: &Client, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let res = client
        .http
        .get(format!("{}{}", client.base, path))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

/// The file name a download offers (its RFC 6266 `filename*`, decoded).
fn offered_name(headers: &reqwest::header::HeaderMap) -> String {
    let d = headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let encoded = d
        .split("filename*=UTF-8''")
        .nth(1)
        .unwrap_or_else(|| panic!("{d}"));
    let mut bytes = Vec::new();
    let mut it = encoded.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let h: String = [it.next().unwrap() as char, it.next().unwrap() as char]
                .iter()
                .collect();
            bytes.push(u8::from_str_radix(&h, 16).unwrap());
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).unwrap()
}

/// Every record of a CSV file, read as a spreadsheet would.
pub fn csv_records(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes)
        .unwrap()
        .trim_start_matches('\u{feff}');
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

app_test! {
    async fn the_monthly_csv_has_one_record_per_row_under_a_title_and_a_name_with_area_and_month(app) {
        let [city, _, town, village] = app.area_chain("导出");
        let mut total = 0;
        for i in 0..12 {
            let h = app.household(&format!("导出户{i}"), &village);
            fund(&mut app.conn(), &h, 10 + i);
            total += 10 + i;
        }
        let store = app.store("导出超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let households: Vec<String> = (0..3).map(|i| app.household(&format!("兑换户{i}"), &village)).collect();
        for h in &households {
            crate::counter::redeem_for_test(&app, &store, h, &goods.items[0]);
        }
        let month = Month::of(aixin::time::today(TZ));
        let admin = app.admin().await;
        let (status, headers, body) = download(&admin, &format!("/reports/monthly.csv?month={month}&area_id={city}")).await;
        assert_eq!(status, 200);
        assert_eq!(offered_name(&headers), format!("月度汇总-导出市-{month}.csv"));
        let records = csv_records(&body);
        assert!(records.len() > 20, "one record per row: {records:?}");
        assert!(records.iter().all(|r| r.len() <= 11), "no record runs on: {:?}", records.iter().map(Vec::len).max());
        assert_eq!(records[0], vec!["月度汇总".to_string(), "区域：导出市".into(), format!("月份：{month}")]);
        // Section titles, each followed by its header and its rows.
        let at = records.iter().position(|r| r == &vec!["积分".to_string()]).expect("the points section");
        assert_eq!(records[at + 1][0], "项目");
        let closing = records.iter().find(|r| r.first().is_some_and(|c| c == "期末积分余额")).unwrap();
        let redeemed = 3 * goods_price(&app, &goods.items[0]);
        assert_eq!(closing, &vec!["期末积分余额".to_string(), String::new(), (total + 3000 - redeemed).to_string()]);
        // Each store's redemptions on its own row, a plain number.
        let store_row = records.iter().find(|r| r.first().is_some_and(|c| c == "导出超市")).unwrap();
        assert_eq!(store_row[1], "3");
        // A goods line: its store, goods and ten numbers.
        let goods_row = records.iter().find(|r| r.len() == 11 && r[0] == "导出超市").unwrap();
        assert!(goods_row[2..].iter().all(|n| n.parse::<i64>().is_ok()), "{goods_row:?}");

        // English: the title and the name in English.
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let (_, headers, body) = download(&admin, &format!("/reports/monthly.csv?month={month}&area_id={city}")).await;
        assert_eq!(offered_name(&headers), format!("Monthly-summary-导出市-{month}.csv"));
        assert_eq!(csv_records(&body)[0][0], "Monthly summary");
    }
}

fn goods_price(app: &TestApp, item: &str) -> i64 {
    use aixin::db::schema::items;
    use diesel::prelude::*;
    items::table
        .find(item)
        .select(items::points_price)
        .first(&mut app.conn())
        .unwrap()
}

#[test]
fn numbers_stay_numbers_and_only_what_could_run_is_neutralised() {
    let body = aixin::web::export::csv(
        &["a", "b"],
        &[
            vec!["-80".into(), "=1+1".into(), "+5".into(), "12.50".into()],
            vec!["@SUM(A1)".into()],
            vec![],
            vec!["-x".into(), "0531-1".into()],
        ],
    );
    let r = csv_records(&body);
    assert_eq!(r[1], vec!["-80", "'=1+1", "+5", "12.50"]);
    assert_eq!(r[2], vec!["'@SUM(A1)"]);
    assert_eq!(r[4], vec!["'-x", "0531-1"]);
    assert_eq!(
        r.len(),
        5,
        "records of every length each on their own line: {r:?}"
    );
}

#[test]
fn xlsx_numbers_keep_their_sign() {
    let body = aixin::web::export::xlsx(
        "表",
        &["a", "b", "c", "d", "e", "f"],
        &[vec![
            "-80".into(),
            "+5".into(),
            "-12.50".into(),
            "7".into(),
            "-0531".into(),
            "=1+2".into(),
        ]],
    )
    .unwrap();
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(body)).unwrap();
    let range = wb.worksheet_range("表").unwrap();
    let row: Vec<&Data> = range.rows().nth(1).unwrap().iter().collect();
    let number = |d: &Data| match d {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        _ => None,
    };
    assert_eq!(number(row[0]), Some(-80.0), "{row:?}");
    assert_eq!(number(row[1]), Some(5.0), "{row:?}");
    assert_eq!(number(row[2]), Some(-12.5), "{row:?}");
    assert_eq!(number(row[3]), Some(7.0), "{row:?}");
    // Not numbers: a leading zero (a code) and anything else, kept as text.
    assert_eq!(number(row[4]), None, "{row:?}");
    assert_eq!(number(row[5]), None, "{row:?}");
    // Text as typed: a text cell never runs, so no CSV apostrophe shows.
    assert_eq!(row[5], &Data::String("=1+2".into()), "{row:?}");
}

app_test! {
    async fn the_monthly_xlsx_writes_money_as_numbers_under_a_title_with_fitted_columns(app) {
        let [city, _, town, _] = app.area_chain("表格");
        let store = app.store("表格超市", &town);
        crate::stock::seed(&app, &store);
        let month = Month::of(aixin::time::today(TZ));
        let admin = app.admin().await;
        let (status, headers, body) = download(&admin, &format!("/reports/monthly.xlsx?month={month}&area_id={city}")).await;
        assert_eq!(status, 200);
        assert_eq!(offered_name(&headers), format!("月度汇总-表格市-{month}.xlsx"));
        let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(body.clone())).unwrap();
        let range = wb.worksheet_range("捐赠").unwrap();
        let title = range.get_value((0, 0)).unwrap().to_string();
        assert!(title.contains("月度汇总") && title.contains("表格市") && title.contains(&month.to_string()), "{title}");
        assert_eq!(range.get_value((2, 0)).unwrap().to_string(), "捐赠方类型");
        let money: Vec<&Data> = range.rows().skip(3).filter_map(|r| r.get(2)).collect();
        assert!(!money.is_empty());
        assert!(money.iter().all(|d| matches!(d, Data::Float(_) | Data::Int(_))), "money as numbers: {money:?}");
        assert!(money.iter().any(|d| matches!(d, Data::Float(f) if *f > 0.0)), "{money:?}");
        // Every sheet sets its columns' widths.
        let mut zip = zip::ZipArchive::new(Cursor::new(body)).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml).unwrap();
        assert!(xml.contains("<cols>") && xml.contains("customWidth=\"1\""), "{xml}");
    }
}

app_test! {
    async fn a_stores_summary_is_a_click_from_the_store_and_the_reports_and_month_close_asks_first(app) {
        let [city, _, town, _] = app.area_chain("汇总");
        let store = app.store("汇总一店", &town);
        let admin = app.admin().await;
        let page = admin.get(&format!("/stores/{store}")).await;
        page.assert_contains(&format!("href=\"/reports/monthly?store_id={store}\" id=\"store-summary\""));
        let this = Month::of(aixin::time::today(TZ));
        let page = admin.get(&format!("/reports/monthly?month={this}&area_id={city}")).await;
        page.assert_contains("id=\"store-summary-form\"");
        page.assert_contains(&format!("<option value=\"{store}\""));
        // This month is not over: nothing to close here.
        assert!(!page.body.contains("id=\"month-close\""), "a month still running cannot be closed");
        // Last month can be closed, and the button asks first.
        let last = this.prev();
        let page = admin.get(&format!("/reports/monthly?month={last}&area_id={city}")).await;
        page.assert_contains("id=\"close-month\"");
        page.assert_contains(&format!("data-confirm=\"确定要为所有地区月结 {last} 吗？"));
        // A store's summary has no month close (a month closes for the scheme).
        let page = admin.get(&format!("/reports/monthly?month={last}&store_id={store}")).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("id=\"month-close\""));
        // A clerk sees no summary link on their store.
        app.user("hz-clerk", Role::Clerk, None, Some(&store));
        let clerk = app.client();
        clerk.login("hz-clerk", PASSWORD).await;
        let page = clerk.get(&format!("/stores/{store}")).await;
        assert!(!page.body.contains("id=\"store-summary\""));
        // An official of another district sees no link to a store outside it.
        let [_, _, _, other_village] = app.area_chain("他区");
        app.user("hz-off", Role::Official, Some(&other_village), None);
        let official = app.client();
        official.login("hz-off", PASSWORD).await;
        let page = official.get(&format!("/reports/monthly?month={this}&area_id={other_village}")).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains(&store));
    }
}

/// Date a household's registration five months back, so that a month's
/// summary counts it among the quiet ones.
pub fn registered_long_ago(app: &TestApp, household: &str) {
    use aixin::db::schema::households;
    use diesel::prelude::*;
    let then = chrono::Utc::now().naive_utc() - chrono::Duration::days(150);
    diesel::update(households::table.find(household))
        .set(households::created_at.eq(then))
        .execute(&mut app.conn())
        .unwrap();
}

/// Every cell of every sheet of a workbook, as (sheet, row, column, cell).
fn cells_of(body: &[u8]) -> Vec<(String, usize, usize, Data)> {
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(body.to_vec())).unwrap();
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        for (r, row) in range.rows().enumerate() {
            for (c, d) in row.iter().enumerate() {
                out.push((name.clone(), r, c, d.clone()));
            }
        }
    }
    out
}

app_test! {
    /// The households workbook: the household's size (家庭人口) is a number
    /// a spreadsheet adds up; a name that looks like a formula is text as
    /// typed (a text cell never runs, so no CSV apostrophe shows).
    async fn the_households_xlsx_writes_the_household_size_as_a_number(app) {
        let [_, _, _, village] = app.area_chain("人口");
        app.household("=SUM(1)", &village);
        let admin = app.admin().await;
        let (status, _, body) = download(&admin, "/households/export.xlsx").await;
        assert_eq!(status, 200);
        let cells = cells_of(&body);
        let header = |title: &str| {
            cells
                .iter()
                .find(|(_, r, _, d)| *r == 0 && matches!(d, Data::String(s) if s == title))
                .map(|(_, _, c, _)| *c)
                .unwrap_or_else(|| panic!("no column {title}"))
        };
        let (members, head) = (header("家庭人口"), header("户主姓名"));
        let at = |col: usize| cells.iter().find(|(_, r, c, _)| *r == 1 && *c == col).map(|x| x.3.clone());
        assert!(matches!(at(members), Some(Data::Float(_) | Data::Int(_))), "the size as a number: {:?}", at(members));
        assert_eq!(at(head), Some(Data::String("=SUM(1)".into())));
    }
}

app_test! {
    /// The monthly workbook in English names a quiet household's village
    /// with its town in ASCII brackets; in Chinese, in Chinese ones.
    async fn the_monthly_xlsx_names_villages_in_the_readers_brackets(app) {
        let [city, _, _, village] = app.area_chain("括号");
        let quiet = app.household("安静户", &village);
        registered_long_ago(&app, &quiet);
        let month = Month::of(aixin::time::today(TZ));
        let admin = app.admin().await;
        let path = format!("/reports/monthly.xlsx?month={month}&area_id={city}");
        let (_, _, zh) = download(&admin, &path).await;
        let said = |body: &[u8]| cells_of(body).into_iter().map(|x| x.3.to_string()).collect::<Vec<_>>();
        assert!(said(&zh).iter().any(|s| s == "括号村（括号镇）"), "{:?}", said(&zh));
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let (_, _, en) = download(&admin, &path).await;
        assert!(said(&en).iter().any(|s| s == "括号村 (括号镇)"), "{:?}", said(&en));
        assert!(!said(&en).iter().any(|s| s.contains('（')), "{:?}", said(&en));
    }
}
