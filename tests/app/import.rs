//! Importing household lists safely: hostile files, the register's
//! correctness, personal data at rest, confirming what was checked, and
//! what a check may tell about households outside the caller's scope.

use std::io::{Cursor, Write};

use aixin::db::schema::{households, import_jobs};
use diesel::prelude::*;

use crate::helpers::*;

fn count_households(app: &TestApp) -> i64 {
    households::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

const HEADERS: [&str; 7] = [
    "户主姓名",
    "身份证号",
    "联系电话",
    "所属村",
    "家庭住址",
    "家庭人口",
    "户类型",
];

/// An XLSX with the headers in row `header_row` (0-based) and `rows` below.
fn xlsx(
    header_row: u32,
    rows: &[Vec<XCell>],
    extra: impl FnOnce(&mut rust_xlsxwriter::Worksheet),
) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(header_row, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let at = (header_row + 1 + r as u32, c as u16);
            match cell {
                XCell::S(s) => ws.write_string(at.0, at.1, s).unwrap(),
                XCell::N(n) => ws.write_number(at.0, at.1, *n).unwrap(),
            };
        }
    }
    extra(ws);
    wb.save_to_buffer().unwrap()
}

enum XCell {
    S(String),
    N(f64),
}

fn s(x: &str) -> XCell {
    XCell::S(x.to_string())
}

pub async fn upload(c: &Client, name: &str, bytes: Vec<u8>) -> Page {
    c.get("/households/import").await;
    let token = c.csrf().await;
    let form = reqwest::multipart::Form::new().text("csrf", token).part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    let res = c
        .http
        .post(format!("{}/households/import", c.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Page {
        status,
        location,
        body: res.text().await.unwrap(),
        headers: Default::default(),
    }
}

/// Follow an import job until it stops running.
pub async fn wait_job(c: &Client, path: &str) -> Page {
    for _ in 0..600 {
        let page = c.get(path).await;
        if !page.body.contains("data-state=\"checking\"")
            && !page.body.contains("data-state=\"importing\"")
        {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("import job did not finish");
}

/// Upload a file and wait for its check.
async fn check_file(c: &Client, name: &str, bytes: Vec<u8>) -> (String, Page) {
    let up = upload(c, name, bytes).await;
    assert_eq!(up.status, 303, "{}", up.body);
    let job = up.location.unwrap();
    let page = wait_job(c, &job).await;
    (job, page)
}

/// A valid XLSX with one more zip entry that unpacks to `mb` MB of zeros
/// (a zip bomb: the file stays a few hundred KB).
fn zip_bomb(mb: usize) -> Vec<u8> {
    let base = xlsx(0, &[], |_| {});
    let mut src = zip::ZipArchive::new(Cursor::new(base)).unwrap();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..src.len() {
        w.raw_copy_file(src.by_index_raw(i).unwrap()).unwrap();
    }
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("xl/media/image1.bin", opts).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mb {
        w.write_all(&zeros).unwrap();
    }
    w.finish().unwrap().into_inner()
}

app_test! {
    async fn hostile_files_are_refused_while_the_server_keeps_answering(app) {
        let admin = app.admin().await;
        // Headers and one cell at XFD1048576: 1.7 KB that once meant 512 GB.
        let far = xlsx(0, &[], |ws| {
            ws.write_string(1_048_575, 16_383, "x").unwrap();
        });
        assert!(far.len() < 10_000);
        let (_, page) = check_file(&admin, "far.xlsx", far).await;
        page.assert_contains("data-state=\"failed\"");
        page.assert_contains("表格过大");
        // One cell at Z400000.
        let deep = xlsx(0, &[], |ws| {
            ws.write_string(399_999, 25, "x").unwrap();
        });
        let (_, page) = check_file(&admin, "deep.xlsx", deep).await;
        page.assert_contains("data-state=\"failed\"");
        page.assert_contains("表格过大");
        // A zip bomb.
        let bomb = zip_bomb(120);
        assert!(bomb.len() < 1_000_000, "{}", bomb.len());
        let (_, page) = check_file(&admin, "bomb.xlsx", bomb).await;
        page.assert_contains("data-state=\"failed\"");
        page.assert_contains("解压后超过");
        // The server answers, and no job is left running or holding a file.
        assert_eq!(admin.get("/households/import").await.status, 200);
        let jobs: Vec<(String, Vec<u8>)> = import_jobs::table
            .select((import_jobs::state, import_jobs::file))
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(jobs.len(), 3);
        assert!(jobs.iter().all(|(s, f)| s == "failed" && f.is_empty()), "{:?}", jobs.iter().map(|j| &j.0).collect::<Vec<_>>());
        assert_eq!(count_households(&app), 0);
    }
}

app_test! {
    async fn a_job_whose_server_stopped_ends_failed_with_its_reason(app) {
        let admin = app.admin().await;
        let admin_id: String = aixin::db::schema::users::table
            .filter(aixin::db::schema::users::username.eq("boss"))
            .select(aixin::db::schema::users::id)
            .first(&mut app.conn())
            .unwrap();
        let job = {
            let mut c = app.conn();
            let id = aixin::households::import::create_job(&mut c, &app.key, &admin_id, "x.csv", b"x").unwrap();
            diesel::update(import_jobs::table.find(&id))
                .set(import_jobs::updated_at.eq(aixin::db::now() - chrono::Duration::hours(2)))
                .execute(&mut c)
                .unwrap();
            id
        };
        let page = admin.get(&format!("/households/import/{job}")).await;
        page.assert_contains("data-state=\"failed\"");
        page.assert_contains("处理被中断");
        let file: Vec<u8> = import_jobs::table.find(&job).select(import_jobs::file).first(&mut app.conn()).unwrap();
        assert!(file.is_empty());
    }
}

app_test! {
    async fn an_import_keeps_the_register_right(app) {
        let [_, _, _, _village] = app.area_chain("莱芜");
        let admin = app.admin().await;
        let good = test_id_number();
        // A merged title above the headers, which are in row 2.
        let file = xlsx(
            1,
            &[
                vec![s("张三"), s(&good), s(""), s("莱芜村"), s("一组"), s("3"), s("建档立卡户")],
                // Excel kept 15 significant digits; the check digit happens to fit.
                vec![s("李四"), XCell::N(110_101_199_003_010_000.0), s(""), s("莱芜村"), s("一组"), s("3"), s("")],
            ],
            |ws| {
                ws.merge_range(0, 0, 0, 6, "2026年某村农户花名册", &rust_xlsxwriter::Format::new())
                    .unwrap();
            },
        );
        let (job, page) = check_file(&admin, "list.xlsx", file).await;
        page.assert_contains("data-state=\"checked\"");
        page.assert_contains("id=\"n-create\">1<");
        page.assert_contains("id=\"n-refused\">1<");
        page.assert_contains("Excel 把它存成了数字");
        assert!(!page.body.contains("缺少"), "the header row is found below the title");
        // The refused row is row 4 as the spreadsheet shows it.
        page.assert_contains("<td>4</td>");
        let _ = job;
        // Headers nowhere in the top rows: the missing column is named.
        let csv = "2026年某村农户花名册\n姓名,电话\n张三,13800138000\n";
        let (_, page) = check_file(&admin, "bad.csv", csv.as_bytes().to_vec()).await;
        page.assert_contains("data-state=\"failed\"");
        page.assert_contains("缺少“身份证号”列");
    }
}

/// A CSV of households in `village`, one per ID number.
fn csv_file(village: &str, ids: &[String]) -> String {
    let mut s = String::from("户主姓名,身份证号,联系电话,所属村,家庭住址,家庭人口,户类型,备注\n");
    for (i, id) in ids.iter().enumerate() {
        s.push_str(&format!(
            "户主{i},{id},1380013{i:04},{village},一组,3,建档立卡户,\n"
        ));
    }
    s
}

app_test! {
    async fn an_uploaded_file_is_kept_encrypted_and_not_for_long(app) {
        let [_, _, _, _village] = app.area_chain("章丘");
        let admin = app.admin().await;
        let ids: Vec<String> = (0..2).map(|_| test_id_number()).collect();
        let file = csv_file("章丘村", &ids);
        let (job, page) = check_file(&admin, "list.csv", file.clone().into_bytes()).await;
        page.assert_contains("data-state=\"checked\"");
        let job_id = job.rsplit('/').next().unwrap().to_string();
        let stored: Vec<u8> = import_jobs::table.find(&job_id).select(import_jobs::file).first(&mut app.conn()).unwrap();
        assert!(!stored.is_empty(), "kept until confirmed");
        let as_text = String::from_utf8_lossy(&stored);
        assert!(!as_text.contains(&ids[0]) && !as_text.contains("户主"), "not in the clear");
        assert_eq!(app.key.decrypt_bytes(&stored).unwrap(), file.as_bytes());
        // An hour later, unconfirmed: the file is gone and confirming is refused.
        {
            let mut c = app.conn();
            diesel::update(import_jobs::table.find(&job_id))
                .set(import_jobs::updated_at.eq(aixin::db::now() - chrono::Duration::minutes(55)))
                .execute(&mut c)
                .unwrap();
        }
        let confirmed = admin.submit(&format!("{job}/confirm"), &[]).await;
        confirmed.assert_contains("检查结果已过期");
        assert_eq!(count_households(&app), 0);
        let purged = aixin::households::import::purge_stale_files(&mut app.conn(), aixin::db::now()).unwrap();
        assert_eq!(purged, 1);
        let (state, stored): (String, Vec<u8>) = import_jobs::table.find(&job_id).select((import_jobs::state, import_jobs::file)).first(&mut app.conn()).unwrap();
        assert_eq!(state, "expired");
        assert!(stored.is_empty());
        admin.get(&job).await.assert_contains("id=\"import-expired\"");
        // Confirmed in time: imported, and the file is gone.
        let (job, _) = check_file(&admin, "list.csv", file.into_bytes()).await;
        assert_eq!(admin.post(&format!("{job}/confirm"), &[]).await.status, 303);
        wait_job(&admin, &job).await.assert_contains("data-state=\"done\"");
        assert_eq!(count_households(&app), 2);
        let job_id = job.rsplit('/').next().unwrap().to_string();
        let stored: Vec<u8> = import_jobs::table.find(&job_id).select(import_jobs::file).first(&mut app.conn()).unwrap();
        assert!(stored.is_empty());
        // A second confirm is refused with a message, and changes nothing.
        let again = admin.submit(&format!("{job}/confirm"), &[]).await;
        again.assert_contains("该文件已确认导入");
        assert_eq!(count_households(&app), 2);
    }
}

/// city > district > two towns, a village in each; returns (town A,
/// village A, village B), named 甲镇/甲村 and 乙镇/乙村 after `p`.
fn two_towns(app: &TestApp, p: &str) -> (String, String, String) {
    let city = app.area(None, &format!("{p}市"));
    let district = app.area(Some(&city), &format!("{p}区"));
    let town_a = app.area(Some(&district), &format!("{p}甲镇"));
    let village_a = app.area(Some(&town_a), &format!("{p}甲村"));
    let town_b = app.area(Some(&district), &format!("{p}乙镇"));
    let village_b = app.area(Some(&town_b), &format!("{p}乙村"));
    (town_a, village_a, village_b)
}

fn row(name: &str, id: &str, village: &str, members: u32) -> String {
    format!("{name},{id},13800138000,{village},一组 1 号,{members},建档立卡户\n")
}

const CSV_HEAD: &str = "户主姓名,身份证号,联系电话,所属村,家庭住址,家庭人口,户类型\n";

app_test! {
    async fn an_import_confirms_exactly_what_its_check_showed(app) {
        use aixin::domain::Role;
        let (town_a, village_a, village_b) = two_towns(&app, "历下");
        app.user("li", Role::Official, Some(&town_a), None);
        let li = app.client();
        li.login("li", PASSWORD).await;
        let admin = app.admin().await;
        // A household in the other town, outside li's scope.
        let elsewhere = test_id_number();
        let (other_id, _) = app.household_with_id("王五", &village_b, &elsewhere);
        let fresh = test_id_number();
        let file = format!(
            "{CSV_HEAD}{}{}",
            row("新户", &fresh, "历下甲村", 3),
            row("王五", &elsewhere, "历下甲村", 3)
        );
        let (job, page) = check_file(&li, "list.csv", file.into_bytes()).await;
        page.assert_contains("id=\"n-create\">1<");
        page.assert_contains("id=\"n-refused\">1<");
        // The admin confirms the official's check: applied as li, in li's scope.
        assert_eq!(admin.post(&format!("{job}/confirm"), &[]).await.status, 303);
        wait_job(&admin, &job).await.assert_contains("data-state=\"done\"");
        let created: Vec<(String, String)> = households::table
            .filter(households::id.ne(&other_id))
            .select((households::head_name, households::created_by))
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(created, vec![("新户".to_string(), "li".to_string())]);
        let area: String = households::table.find(&other_id).select(households::area_id).first(&mut app.conn()).unwrap();
        assert_eq!(area, village_b, "the row the check refused is not applied");

        // Something changed after the check: nothing is written, the new check is shown.
        let later = test_id_number();
        let file = format!("{CSV_HEAD}{}", row("后来户", &later, "历下甲村", 3));
        let (job, page) = check_file(&li, "later.csv", file.into_bytes()).await;
        page.assert_contains("id=\"n-create\">1<");
        app.household_with_id("抢先户", &village_a, &later);
        let before = count_households(&app);
        assert_eq!(li.post(&format!("{job}/confirm"), &[]).await.status, 303);
        let page = wait_job(&li, &job).await;
        page.assert_contains("data-state=\"checked\"");
        page.assert_contains("id=\"import-changed\"");
        page.assert_contains("id=\"n-create\">0<");
        assert_eq!(count_households(&app), before);

        // An update lists old and new values and needs a tick.
        let known = test_id_number();
        let (known_id, _) = app.household_with_id("赵六", &village_a, &known);
        let file = format!("{CSV_HEAD}{}", row("赵六", &known, "历下甲村", 5));
        let (job, page) = check_file(&li, "update.csv", file.into_bytes()).await;
        page.assert_contains("id=\"n-update\">1<");
        page.assert_contains("<td>家庭人口</td><td>3</td><td>5</td>");
        let unticked = li.submit(&format!("{job}/confirm"), &[]).await;
        unticked.assert_contains("请勾选");
        let members: i64 = households::table.find(&known_id).select(households::members).first(&mut app.conn()).unwrap();
        assert_eq!(members, 3, "not applied without the tick");
        assert_eq!(li.post(&format!("{job}/confirm"), &[("apply_updates", "1")]).await.status, 303);
        wait_job(&li, &job).await.assert_contains("data-state=\"done\"");
        let members: i64 = households::table.find(&known_id).select(households::members).first(&mut app.conn()).unwrap();
        assert_eq!(members, 5);
    }
}

app_test! {
    async fn a_check_tells_nothing_about_households_outside_the_scope(app) {
        use aixin::db::schema::audit_log;
        use aixin::domain::Role;
        let (town_a, village_a, village_b) = two_towns(&app, "天桥");
        app.user("li", Role::Official, Some(&town_a), None);
        let li = app.client();
        li.login("li", PASSWORD).await;
        let elsewhere = test_id_number();
        let (other_id, _) = app.household_with_id("王五", &village_b, &elsewhere);
        // A dry-run check of generated numbers, one registered in another town.
        let file = format!(
            "{CSV_HEAD}{}{}",
            row("试探一", &test_id_number(), "天桥甲村", 3),
            row("试探二", &elsewhere, "天桥甲村", 3)
        );
        let (_, page) = check_file(&li, "probe.csv", file.into_bytes()).await;
        page.assert_contains("id=\"n-refused\">1<");
        page.assert_contains("此行需由管理员核对");
        assert!(!page.body.contains("其他区域") && !page.body.contains("王五") && !page.body.contains("天桥乙"));
        // Audited: the check with its counts, and the conflict for the administrators.
        let rows: Vec<(String, String, String)> = audit_log::table
            .select((audit_log::action, audit_log::target_id, audit_log::summary))
            .load(&mut app.conn())
            .unwrap();
        let check = rows.iter().find(|r| r.0 == "household.import_check").expect("the check is audited");
        let said = aixin::audit::Detail::read(&check.2).expect("the check's counts");
        assert!(said.value("rows") == Some("2") && said.value("create") == Some("1") && said.value("for_admin") == Some("1"), "{}", check.2);
        assert!(rows.iter().any(|r| r.0 == "household.id_conflict" && r.1 == other_id), "the conflict is in the administrators' log");
        assert!(rows.iter().all(|r| !r.2.contains(&elsewhere)), "no full ID number in the audit log");

        // Registering one household: a neutral refusal in the form's own
        // words beside the ID number (never the import's row wording, nor
        // which area or who), audited.
        let again = li.submit("/households", &[
            ("head_name", "试探三"), ("id_number", &elsewhere), ("area_id", &village_a), ("members", "2"),
        ]).await;
        again.assert_contains("身份证号：已有农户在别处用这个身份证号登记");
        assert!(!again.body.contains("此行") && !again.body.contains("其他区域") && !again.body.contains("王五") && !again.body.contains("天桥乙"));
        let conflicts = audit_log::table
            .filter(audit_log::action.eq("household.id_conflict"))
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap();
        assert_eq!(conflicts, 2);
        assert_eq!(count_households(&app), 1);

        // Checks are limited per user and hour, in the database.
        let li_id: String = aixin::db::schema::users::table
            .filter(aixin::db::schema::users::username.eq("li"))
            .select(aixin::db::schema::users::id)
            .first(&mut app.conn())
            .unwrap();
        for _ in 1..aixin::households::import::MAX_CHECKS_PER_HOUR {
            aixin::households::import::create_job(&mut app.conn(), &app.key, &li_id, "x.csv", b"x").unwrap();
        }
        let jobs_before: i64 = import_jobs::table.count().get_result(&mut app.conn()).unwrap();
        let refused = upload(&li, "more.csv", CSV_HEAD.as_bytes().to_vec()).await;
        assert_eq!(refused.location.as_deref(), Some("/households/import"));
        li.follow("/households/import").await.assert_contains("一小时内最多检查 20 个文件");
        let jobs_after: i64 = import_jobs::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(jobs_after, jobs_before);
    }
}

app_test! {
    async fn an_unknown_household_type_is_refused_never_guessed(app) {
        let [_, _, _, _village] = app.area_chain("长清");
        let admin = app.admin().await;
        let file = format!(
            "{CSV_HEAD}{}{}",
            row("甲", &test_id_number(), "长清村", 3).replace("建档立卡户", "贫困户"),
            row("乙", &test_id_number(), "长清村", 3).replace("建档立卡户", "低保户")
        );
        let (_, page) = check_file(&admin, "types.csv", file.into_bytes()).await;
        page.assert_contains("id=\"n-create\">0<");
        page.assert_contains("id=\"n-refused\">2<");
        page.assert_contains("“贫困户”不是可用的户类型，应为 建档立卡户、脱贫户 或 监测户");
        page.assert_contains("“低保户”不是可用的户类型");
    }
}

app_test! {
    async fn parallel_uploads_stop_exactly_at_the_hourly_check_limit(app) {
        let admin = app.admin().await;
        let admin_id: String = aixin::db::schema::users::table
            .filter(aixin::db::schema::users::username.eq("boss"))
            .select(aixin::db::schema::users::id)
            .first(&mut app.conn())
            .unwrap();
        let limit = aixin::households::import::MAX_CHECKS_PER_HOUR as usize;
        // Checks already made this hour: all but four of the limit.
        for _ in 0..limit - 4 {
            let mut c = app.conn();
            let id = aixin::households::import::create_job(&mut c, &app.key, &admin_id, "x.csv", b"x").unwrap();
            diesel::update(import_jobs::table.find(&id))
                .set(import_jobs::state.eq("failed"))
                .execute(&mut c)
                .unwrap();
        }
        admin.get("/households/import").await;
        let token = admin.csrf().await;
        let send = |i: usize| {
            let form = reqwest::multipart::Form::new().text("csrf", token.clone()).part(
                "file",
                reqwest::multipart::Part::bytes(format!("户主姓名,身份证号,所属村,家庭人口\n户{i},1,东村,1\n").into_bytes())
                    .file_name(format!("list{i}.csv")),
            );
            admin.http.post(format!("{}/households/import", admin.base)).multipart(form).send()
        };
        let answers = futures_util::future::join_all((0..12).map(send)).await;
        let mut accepted = 0;
        for res in answers {
            let res = res.unwrap();
            assert_eq!(res.status().as_u16(), 303);
            let to = res.headers().get("location").unwrap().to_str().unwrap().to_string();
            if to != "/households/import" {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 4, "exactly the four checks left this hour");
        let jobs: i64 = import_jobs::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(jobs as usize, limit);
    }
}

app_test! {
    /// An upload past the cap is refused as it arrives (it goes to an
    /// encrypted temporary file, never whole into memory), and leaves no job.
    async fn an_upload_past_the_cap_is_refused_and_leaves_nothing(app) {
        let admin = app.admin().await;
        let cap = aixin::households::import::MAX_FILE_BYTES;
        let mut big = b"\xe6\x88\xb7\xe4\xb8\xbb\xe5\xa7\x93\xe5\x90\x8d\n".to_vec();
        big.resize(cap + 1, b'x');
        let up = upload(&admin, "big.csv", big).await;
        assert_eq!(up.status, 303, "{}", up.body);
        assert_eq!(up.location.as_deref(), Some("/households/import"));
        admin.get("/households/import").await.assert_contains("20 MB");
        let jobs: i64 = import_jobs::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(jobs, 0);
        // The server goes on answering, and a file within the cap is taken.
        let up = upload(&admin, "list.csv", "户主姓名,身份证号,所属村,家庭人口\n".as_bytes().to_vec()).await;
        assert_eq!(up.status, 303);
        assert_ne!(up.location.as_deref(), Some("/households/import"));
    }
}

app_test! {
    /// A CSV's rows are numbered as a spreadsheet opening it numbers them
    /// (blank lines count, a line break inside a quoted cell does not), and
    /// Excel's text marker `'` before an ID number is read as the text it marks.
    async fn csv_rows_are_numbered_as_the_spreadsheet_shows_them(app) {
        let [_, _, _, _village] = app.area_chain("行号");
        let admin = app.admin().await;
        let (a, b) = (test_id_number(), test_id_number());
        let csv = format!(
            "户主姓名,身份证号,所属村,家庭住址,家庭人口\n\
             \n\
             错一,123,行号村,一组,2\n\
             好一,{a},行号村,\"一组\n东头\",2\n\
             错二,456,行号村,一组,2\n\
             好二,'{b},行号村,一组,2\n"
        );
        let (_, page) = check_file(&admin, "rows.csv", csv.into_bytes()).await;
        page.assert_contains("data-state=\"checked\"");
        page.assert_contains("id=\"n-create\">2<");
        page.assert_contains("id=\"n-refused\">2<");
        let refused: Vec<&str> = page
            .body
            .split("<tr><td>")
            .skip(1)
            .map(|r| r.split("</td>").next().unwrap())
            .collect();
        assert_eq!(refused, vec!["3", "5"], "{}", page.body);
    }
}
