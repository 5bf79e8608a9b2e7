//! Import results a person can act on: the households registered with
//! their card numbers, their cards in one click, and the refused rows as a
//! file to fix and load again.

use std::io::Cursor;

use aixin::db::schema::{households, import_jobs, points_cards};
use aixin::domain::Role;
use calamine::{Data, Reader, Xlsx};
use diesel::prelude::*;

use crate::exports::csv_records;
use crate::helpers::*;
use crate::import::{upload, wait_job};

const HEAD: &str = "户主姓名,身份证号,联系电话,所属村,家庭住址,家庭人口,户类型\n";

async fn bytes(c: &Client, path: &str) -> (u16, Vec<u8>) {
    let res = c
        .http
        .get(format!("{}{}", c.base, path))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

app_test! {
    async fn an_import_shows_new_cards_prints_them_and_gives_back_the_refused_rows_to_fix(app) {
        let [_, _, _, village] = app.area_chain("结果");
        app.user("jg-off", Role::Official, Some(&village), None);
        let official = app.client();
        official.login("jg-off", PASSWORD).await;
        let good: Vec<String> = (0..3).map(|_| test_id_number()).collect();
        let poor_id = test_id_number();
        let mut file = String::from(HEAD);
        for (i, id) in good.iter().enumerate() {
            file.push_str(&format!("新户{i},{id},1380013800{i},结果村,一组,3,监测户\n"));
        }
        file.push_str(&format!("贫困甲,{poor_id},13800138009,结果村,二组,4,贫困户\n"));
        file.push_str("错号乙,370102199001011234,,结果村,三组,2,脱贫户\n");
        let up = upload(&official, "名单.csv", file.into_bytes()).await;
        assert_eq!(up.status, 303, "{}", up.body);
        let job = up.location.unwrap();
        let page = wait_job(&official, &job).await;
        page.assert_contains("id=\"n-create\">3<");
        page.assert_contains("id=\"n-refused\">2<");
        page.assert_contains("“贫困户”不是可用的户类型，应为 建档立卡户、脱贫户 或 监测户");
        page.assert_contains("id=\"refused-download\"");

        // The refused rows, as typed, with their reasons: a file to fix.
        let (status, csv) = bytes(&official, &format!("{job}/refused.csv")).await;
        assert_eq!(status, 200);
        let records = csv_records(&csv);
        assert_eq!(records[0][..4], ["户主姓名", "身份证号", "联系电话", "所属村"]);
        assert_eq!(records[0].last().unwrap(), "拒收原因");
        assert_eq!(records.len(), 3, "{records:?}");
        assert_eq!(records[1][0], "贫困甲");
        // The ID number as it was typed, after a tab so that a spreadsheet
        // opens it as text (as a number its last digits would be lost).
        // An ID number ending in X reads as text already and has no tab.
        let typed_id = if poor_id.bytes().all(|b| b.is_ascii_digit()) { format!("\t{poor_id}") } else { poor_id.clone() };
        assert_eq!(records[1][1], typed_id, "the ID number as it was typed");
        assert_eq!(records[1][6], "贫困户");
        assert!(records[1].last().unwrap().contains("户类型：“贫困户”不是可用的户类型"), "{:?}", records[1]);
        assert_eq!(records[2][0], "错号乙");
        assert!(records[2].last().unwrap().contains("身份证号"), "{:?}", records[2]);
        // In XLSX the ID number stays text (Excel would spoil a number).
        let (status, xlsx) = bytes(&official, &format!("{job}/refused.xlsx")).await;
        assert_eq!(status, 200);
        let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(xlsx)).unwrap();
        let sheet = wb.sheet_names()[0].clone();
        let range = wb.worksheet_range(&sheet).unwrap();
        assert!(matches!(range.get_value((1, 1)), Some(Data::String(s)) if *s == poor_id), "{:?}", range.get_value((1, 1)));
        // So does every other cell: a phone is not a number to be spoiled either.
        assert!(matches!(range.get_value((1, 2)), Some(Data::String(s)) if s == "13800138009"), "{:?}", range.get_value((1, 2)));
        assert!(matches!(range.get_value((1, 5)), Some(Data::String(s)) if s == "4"), "{:?}", range.get_value((1, 5)));
        // Kept encrypted.
        let job_id = job.rsplit('/').next().unwrap().to_string();
        let stored: Vec<u8> = import_jobs::table.find(&job_id).select(import_jobs::refused_rows).first(&mut app.conn()).unwrap();
        assert!(!stored.is_empty() && !String::from_utf8_lossy(&stored).contains(&poor_id));
        // Only the uploader (or an administrator) gets them.
        let [_, _, _, elsewhere] = app.area_chain("别村");
        app.user("jg-other", Role::Official, Some(&elsewhere), None);
        let other = app.client();
        other.login("jg-other", PASSWORD).await;
        assert_eq!(other.get(&format!("{job}/refused.csv")).await.status, 403);
        assert_eq!(other.get(&format!("{job}/cards")).await.status, 403);

        // Confirmed: the new households with their card numbers.
        assert_eq!(official.post(&format!("{job}/confirm"), &[]).await.status, 303);
        let page = wait_job(&official, &job).await;
        page.assert_contains("data-state=\"done\"");
        let cards: Vec<(String, String)> = points_cards::table
            .inner_join(households::table)
            .filter(households::head_name.like("新户%"))
            .select((households::head_name, points_cards::card_no))
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(cards.len(), 3);
        let created = page.body.split("id=\"created\"").nth(1).expect("the new households").split("</table>").next().unwrap().to_string();
        for (name, card) in &cards {
            assert!(created.contains(name.as_str()) && created.contains(card.as_str()), "{name} {card}: {created}");
        }
        // One click prints their cards: all three on one sheet.
        page.assert_contains(&format!("href=\"{job}/cards\" id=\"print-created-cards\""));
        let sheet = official.get(&format!("{job}/cards")).await;
        assert_eq!(sheet.status, 200);
        assert_eq!(sheet.body.matches("class=\"points-card").count(), 3, "{}", sheet.body);
        for (_, card) in &cards {
            assert!(sheet.body.replace(' ', "").contains(card.as_str()));
        }
        sheet.assert_contains("data-print");
        // The refused rows are still there after the import, fixed and loaded again.
        let (_, csv) = bytes(&official, &format!("{job}/refused.csv")).await;
        let text = String::from_utf8(csv).unwrap()
            .replace("贫困户", "监测户")
            .replace("370102199001011234", &test_id_number());
        let again = upload(&official, "改好的.csv", text.into_bytes()).await;
        let page = wait_job(&official, &again.location.unwrap()).await;
        page.assert_contains("id=\"n-create\">2<");
        page.assert_contains("id=\"n-refused\">0<");
    }
}

/// Upload a file with the "skip the registered" box ticked.
async fn upload_skipping(c: &Client, name: &str, bytes: Vec<u8>) -> Page {
    c.get("/households/import").await;
    let token = c.csrf().await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", token)
        .text("skip_registered", "1")
        .part(
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

app_test! {
    /// A fixed file loaded again after an import, with "skip the
    /// registered" ticked: the rows already registered are counted as
    /// skipped (not refused, not changed, not registered twice), the new
    /// ones registered. Unticked, they are what they were (unchanged, or
    /// an update to confirm).
    async fn a_fixed_file_loaded_again_skips_the_households_already_registered(app) {
        let [_, _, _, village] = app.area_chain("重载");
        app.user("cz-off", Role::Official, Some(&village), None);
        let official = app.client();
        official.login("cz-off", PASSWORD).await;
        let ids: Vec<String> = (0..3).map(|_| test_id_number()).collect();
        let mut file = String::from(HEAD);
        for (i, id) in ids.iter().enumerate() {
            file.push_str(&format!("老户{i},{id},1380013800{i},重载村,一组,3,监测户\n"));
        }
        let fixed_id = test_id_number();
        let first = format!("{file}错户,{fixed_id},,重载村,二组,2,贫困户\n");
        let up = upload(&official, "名单.csv", first.into_bytes()).await;
        let job = up.location.unwrap();
        let page = wait_job(&official, &job).await;
        page.assert_contains("id=\"n-create\">3<");
        page.assert_contains("id=\"n-refused\">1<");
        assert!(!page.body.contains("id=\"n-skipped\""), "no skipping asked: {}", page.body);
        assert_eq!(official.post(&format!("{job}/confirm"), &[]).await.status, 303);
        wait_job(&official, &job).await.assert_contains("data-state=\"done\"");
        let before: i64 = households::table.count().get_result(&mut app.conn()).unwrap();

        // The whole file fixed, one registered household's members changed too.
        let fixed = format!("{}错户,{fixed_id},,重载村,二组,2,脱贫户\n", file.replacen(",3,监测户", ",5,监测户", 1));
        // Unticked: today's behaviour, the changed one an update to confirm.
        let up = upload(&official, "改好的.csv", fixed.clone().into_bytes()).await;
        let page = wait_job(&official, &up.location.unwrap()).await;
        page.assert_contains("id=\"n-create\">1<");
        page.assert_contains("id=\"n-update\">1<");
        page.assert_contains("id=\"n-unchanged\">2<");

        // Ticked: the three registered ones skipped, the fixed one registered.
        let up = upload_skipping(&official, "改好的.csv", fixed.into_bytes()).await;
        assert_eq!(up.status, 303, "{}", up.body);
        let job = up.location.unwrap();
        let page = wait_job(&official, &job).await;
        page.assert_contains("id=\"n-create\">1<");
        page.assert_contains("id=\"n-update\">0<");
        page.assert_contains("id=\"n-unchanged\">0<");
        page.assert_contains("id=\"n-refused\">0<");
        page.assert_contains("已登记，跳过：<strong id=\"n-skipped\">3<");
        let job_id = job.rsplit('/').next().unwrap().to_string();
        let stored: bool = import_jobs::table.find(&job_id).select(import_jobs::skip_registered).first(&mut app.conn()).unwrap();
        assert!(stored, "the choice is kept with the job");
        // Confirmed without ticking "apply updates": nothing to update.
        assert_eq!(official.post(&format!("{job}/confirm"), &[]).await.status, 303);
        let page = wait_job(&official, &job).await;
        page.assert_contains("data-state=\"done\"");
        page.assert_contains("id=\"n-skipped\">3<");
        let after: i64 = households::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(after, before + 1, "only the fixed row is registered");
        let members: i64 = households::table.filter(households::head_name.eq("老户0")).select(households::members).first(&mut app.conn()).unwrap();
        assert_eq!(members, 3, "a skipped household is not changed");
        // The import's audit row says how many were skipped.
        let summary: String = aixin::db::schema::audit_log::table
            .filter(aixin::db::schema::audit_log::action.eq("household.import"))
            .filter(aixin::db::schema::audit_log::summary.like("%改好的%"))
            .select(aixin::db::schema::audit_log::summary)
            .first(&mut app.conn())
            .unwrap();
        let said = aixin::audit::Detail::read(&summary).expect("the import's counts");
        assert_eq!((said.value("created"), said.value("skipped")), (Some("1"), Some("3")), "{summary}");
        assert!(said.say(aixin::i18n::Lang::Zh).contains("已登记跳过 3 行"), "{summary}");

        // In English too.
        official.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let page = official.get(&job).await;
        page.assert_contains("Already registered, skipped: <strong id=\"n-skipped\">3<");
    }
}
