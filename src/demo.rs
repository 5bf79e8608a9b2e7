//! A demo city for someone trying Aixin for the first time: areas, staff
//! with known passwords, a rulebook, stores with goods on the shelves,
//! households, approved awards and redemptions. Deterministic for a seed.
//! It goes through the same operations as the pages, so what it makes is
//! what the app would have made.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::audit::AuditCtx;
use crate::config::PasswordCost;
use crate::crypto::DataKey;
use crate::db::DbConn;
use crate::domain::{NewPassword, Role, Username};
use crate::idempotency::IdemKey;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "aixin-demo";

#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    pub households: usize,
    pub seed: u64,
}

/// Who can log in to the demo.
pub struct DemoLogins {
    pub admin: String,
    pub official: String,
    pub reviewer: String,
    pub clerk: String,
    pub auditor: String,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "桂兰", "志强", "玉兰", "明", "海燕", "国华", "丽", "军", "春梅", "德福",
    "红霞", "永生", "淑珍", "长青",
];
const DISTRICTS: &[&str] = &[
    "历城区",
    "章丘区",
    "长清区",
    "平阴县",
    "商河县",
    "济阳区",
    "莱芜区",
    "钢城区",
];
/// (code, category, rule, points, cap: times per period)
type DemoRule = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    Option<(i64, &'static str)>,
);

const RULES: &[DemoRule] = &[
    (
        "A01",
        "勤劳致富",
        "发展庭院经济、外出务工",
        10,
        Some((1, "month")),
    ),
    ("A02", "技能培训", "参加一次技能培训", 5, Some((2, "month"))),
    (
        "B01",
        "孝老爱亲",
        "照顾老人，家庭和睦",
        5,
        Some((1, "month")),
    ),
    (
        "C01",
        "环境卫生",
        "庭院整洁，物品摆放有序",
        3,
        Some((1, "month")),
    ),
    ("C02", "环境卫生", "参加村庄环境整治", 5, Some((2, "month"))),
    (
        "D01",
        "子女教育",
        "子女按时上学，无辍学",
        5,
        Some((1, "month")),
    ),
    (
        "E01",
        "志愿服务",
        "参加志愿服务、公益劳动",
        4,
        Some((4, "month")),
    ),
    ("F01", "遵纪守法", "调解邻里纠纷", 5, None),
    ("Z01", "减分项目", "乱扔垃圾、乱堆乱放", -5, None),
];
const GOODS: &[(&str, &str, &str, &str)] = &[
    ("大米 5kg", "粮油", "袋", "45"),
    ("面粉 5kg", "粮油", "袋", "30"),
    ("花生油 1.8L", "粮油", "桶", "35"),
    ("酱油", "调味品", "瓶", "8"),
    ("食盐", "调味品", "袋", "2"),
    ("洗衣粉", "日用品", "袋", "10"),
    ("肥皂", "日用品", "块", "3"),
    ("卫生纸", "日用品", "提", "15"),
    ("毛巾", "日用品", "条", "6"),
    ("牙膏", "日用品", "支", "5"),
    ("暖水瓶", "家居", "个", "25"),
    ("洗脸盆", "家居", "个", "12"),
    ("垃圾桶", "家居", "个", "15"),
    ("作业本", "文具", "本", "1"),
    ("书包", "文具", "个", "30"),
];

fn id_number(rng: &mut StdRng) -> String {
    let body = format!(
        "370{:03}{:04}{:02}{:02}{:03}",
        rng.gen_range(100..200),
        rng.gen_range(1940..2005),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28),
        rng.gen_range(0..1000)
    );
    format!(
        "{body}{}",
        crate::domain::people::id_check_char(&body).expect("digits")
    )
}

fn staff(
    conn: &mut DbConn,
    cost: PasswordCost,
    name: &str,
    role: Role,
    area: Option<&str>,
    store: Option<&str>,
) -> Result<String, String> {
    let assignment = crate::users::Assignment {
        role,
        area_id: area.map(str::to_string),
        store_id: store.map(str::to_string),
    };
    let password =
        NewPassword::parse("field.password", DEMO_PASSWORD).map_err(|e| format!("{e:?}"))?;
    crate::users::create(
        conn,
        &AuditCtx::console(),
        cost,
        &Username::parse(name).map_err(|e| format!("{e:?}"))?,
        "",
        &assignment,
        crate::users::InitialPassword::Given(password),
    )
    .map(|(u, _)| u.username)
    .map_err(|e| format!("{e:?}"))
}

/// Whether the database has no households yet (the demo fills only an empty one).
pub fn is_empty(conn: &mut DbConn) -> diesel::QueryResult<bool> {
    use crate::db::schema::households;
    use diesel::prelude::*;
    Ok(households::table.count().get_result::<i64>(conn)? == 0)
}

/// Fill an empty database with a small city, in one transaction (every
/// operation inside is a savepoint). `progress(step, done, total)`.
pub fn fill(
    conn: &mut DbConn,
    key: &DataKey,
    cost: PasswordCost,
    size: DemoSize,
    tz: chrono_tz::Tz,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<DemoLogins, String> {
    let mut progress = Some(progress);
    crate::db::write_tx(conn, |c| {
        let p = progress
            .take()
            .ok_or_else(|| DemoError("the demo cannot be retried".into()))?;
        fill_in_tx(c, key, cost, size, tz, p).map_err(DemoError)
    })
    .map_err(|e| e.0)
}

struct DemoError(String);

impl From<diesel::result::Error> for DemoError {
    fn from(e: diesel::result::Error) -> Self {
        DemoError(e.to_string())
    }
}

impl crate::db::RetryableError for DemoError {
    fn is_retryable(&self) -> bool {
        false
    }
}

fn fill_in_tx(
    conn: &mut DbConn,
    key: &DataKey,
    cost: PasswordCost,
    size: DemoSize,
    tz: chrono_tz::Tz,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<DemoLogins, String> {
    if !is_empty(conn).map_err(|e| e.to_string())? {
        return Err("the database already has households; the demo only fills an empty one".into());
    }
    let err = |e: &dyn std::fmt::Debug| format!("{e:?}");
    let mut rng = StdRng::seed_from_u64(size.seed);
    let ctx = AuditCtx::console();
    let today = crate::time::today(tz);

    // Areas: a city, districts, towns, and a village for every 40 households.
    let villages_wanted = (size.households / 40).max(4);
    let towns_wanted = (villages_wanted / 5).max(2);
    let districts_wanted = (towns_wanted / 4).clamp(1, DISTRICTS.len());
    let city = crate::areas::create(conn, &ctx, None, "济南市")
        .map_err(|e| err(&e))?
        .id;
    let mut towns = Vec::new();
    let mut villages = Vec::new();
    for district_name in DISTRICTS.iter().take(districts_wanted) {
        let district = crate::areas::create(conn, &ctx, Some(&city), district_name)
            .map_err(|e| err(&e))?
            .id;
        for t in 0..(towns_wanted / districts_wanted).max(1) {
            let town = crate::areas::create(
                conn,
                &ctx,
                Some(&district),
                &format!(
                    "{}第{}街道",
                    district_name.chars().next().unwrap_or('新'),
                    t + 1
                ),
            )
            .map_err(|e| err(&e))?
            .id;
            for v in 0..(villages_wanted / towns_wanted).max(2) {
                let village = crate::areas::create(
                    conn,
                    &ctx,
                    Some(&town),
                    &format!(
                        "{}{}村",
                        ["东", "西", "南", "北", "前", "后", "王", "李", "张", "刘"][v % 10],
                        ["庄", "屯", "家", "营", "寨"][(v / 10) % 5]
                    ),
                )
                .map_err(|e| err(&e))?
                .id;
                villages.push((village, town.clone(), district.clone()));
            }
            towns.push(town);
        }
    }
    progress("areas", villages.len(), villages.len());

    // Staff with the demo password.
    let first_village = villages[0].0.clone();
    let first_town = villages[0].1.clone();
    let logins = DemoLogins {
        admin: staff(conn, cost, "demo-admin", Role::Admin, None, None)?,
        official: staff(
            conn,
            cost,
            "demo-official",
            Role::Official,
            Some(&first_town),
            None,
        )?,
        reviewer: staff(
            conn,
            cost,
            "demo-reviewer",
            Role::Reviewer,
            Some(&first_town),
            None,
        )?,
        clerk: String::new(),
        auditor: staff(conn, cost, "demo-auditor", Role::Auditor, None, None)?,
    };
    let official_id = crate::users::find_by_username(conn, &logins.official)
        .map_err(|e| err(&e))?
        .ok_or("no official")?
        .id;
    let reviewer_id = crate::users::find_by_username(conn, &logins.reviewer)
        .map_err(|e| err(&e))?
        .ok_or("no reviewer")?
        .id;

    // The rulebook.
    let categories = crate::points::categories(conn).map_err(|e| err(&e))?;
    for (code, cat, name, points, cap) in RULES {
        let category_id = categories
            .iter()
            .find(|c| c.name == *cat)
            .map(|c| c.id.clone())
            .unwrap_or_else(|| categories[0].id.clone());
        crate::points::create_rule(
            conn,
            &ctx,
            &crate::points::RuleInput {
                code: code.to_string(),
                name: name.to_string(),
                category_id,
                points: *points,
                cap_count: cap.map(|(n, _)| n),
                cap_points: None,
                cap_period: cap.and_then(|(_, p)| crate::points::Period::parse(p)),
                valid_from: None,
                valid_to: None,
                active: true,
            },
        )
        .map_err(|e| err(&e))?;
    }

    // Goods, stores (one for every few towns) and their clerks, donors and donations.
    let mut items = Vec::new();
    for (n, (name, cat, unit, price)) in GOODS.iter().enumerate() {
        let barcode = format!("69{:011}", 1000 + n);
        let item = crate::goods::create(
            conn,
            &ctx,
            &crate::goods::ItemForm {
                name,
                category: cat,
                unit,
                points_price: price,
                barcode: &barcode,
            },
        )
        .map_err(|e| err(&e))?;
        items.push(item);
    }
    let mut stores = Vec::new();
    for (n, town) in towns.iter().enumerate().step_by(2) {
        let name = format!("爱心超市{}号店", n / 2 + 1);
        let store = crate::stores::create(
            conn,
            &ctx,
            &crate::stores::StoreForm {
                name: &name,
                area_id: town,
                address: "村委会院内",
                opening_hours: "08:30-17:00",
            },
        )
        .map_err(|e| err(&e))?;
        let clerk = staff(
            conn,
            cost,
            &format!("demo-clerk{}", n / 2 + 1),
            Role::Clerk,
            None,
            Some(&store.id),
        )?;
        stores.push((store.id, clerk));
    }
    let mut logins = logins;
    logins.clerk = stores[0].1.clone();
    let donor_names = [
        ("鲁粮集团", "enterprise"),
        ("市供销社", "public_unit"),
        ("慈善总会", "social_org"),
        ("张先生", "individual"),
    ];
    let mut donors = Vec::new();
    for (name, kind) in donor_names {
        let d = crate::donations::create_donor(
            conn,
            &ctx,
            &crate::donations::DonorForm {
                name,
                kind,
                contact_person: "",
                phone: "",
                address: "",
                note: "",
            },
        )
        .map_err(|e| err(&e))?;
        donors.push(d.id);
    }
    for (store_id, _) in &stores {
        let lines: Vec<crate::donations::LineInput> = items
            .iter()
            .map(|i| crate::donations::LineInput {
                item_id: i.id.clone(),
                quantity: rng.gen_range(20..80).to_string(),
                value: i.points_price.to_string(),
            })
            .collect();
        let donor = &donors[rng.gen_range(0..donors.len())];
        crate::donations::book(
            conn,
            &ctx,
            &IdemKey::issue(),
            store_id,
            &crate::donations::DonationForm {
                donor_id: donor,
                donated_on: &today.to_string(),
                money: "",
                note: "",
                lines: &lines,
            },
        )
        .map_err(|e| err(&e))?;
    }
    progress("stores", stores.len(), stores.len());

    // Households, each with some approved awards; about half redeem.
    let official_ctx = AuditCtx {
        user_id: Some(official_id.clone()),
        username: logins.official.clone(),
        ..AuditCtx::console()
    };
    let reviewer_ctx = AuditCtx {
        user_id: Some(reviewer_id.clone()),
        username: logins.reviewer.clone(),
        ..AuditCtx::console()
    };
    let official = crate::points::awards::Who {
        user_id: official_id,
        role: Role::Official,
        scope: crate::auth::Scope::All,
    };
    let reviewer = crate::points::awards::Who {
        user_id: reviewer_id,
        role: Role::Reviewer,
        scope: crate::auth::Scope::All,
    };
    let statuses = [
        crate::households::Status::Registered,
        crate::households::Status::Lifted,
        crate::households::Status::Monitored,
    ];
    for n in 0..size.households {
        let (village, _, _) = &villages[n % villages.len()];
        let name = format!(
            "{}{}",
            SURNAMES[rng.gen_range(0..SURNAMES.len())],
            GIVEN[rng.gen_range(0..GIVEN.len())]
        );
        let phone = format!(
            "13{}{:08}",
            rng.gen_range(0..10),
            rng.gen_range(0..100_000_000u32)
        );
        let input = crate::households::HouseholdInput {
            head_name: name,
            id_number: Some(
                crate::domain::IdNumber::parse("field.id_number", &id_number(&mut rng))
                    .map_err(|e| err(&e))?,
            ),
            phone: crate::domain::Phone::parse("field.phone", &phone).ok(),
            area_id: village.clone(),
            address: format!("{}组{}号", rng.gen_range(1..6), rng.gen_range(1..60)),
            members: rng.gen_range(1..7),
            status: statuses[rng.gen_range(0..3)],
            helper_id: None,
            notes: String::new(),
            status_reason: String::new(),
        };
        let (household, card) =
            match crate::households::create(conn, &ctx, key, &crate::auth::Scope::All, &input) {
                Ok(x) => x,
                // A repeated random ID number: skip this one.
                Err(crate::households::HouseholdError::Invalid(_)) => continue,
                Err(e) => return Err(err(&e)),
            };
        for _ in 0..rng.gen_range(1..4) {
            let (code, ..) = RULES[rng.gen_range(0..RULES.len() - 1)];
            let day = today - chrono::Duration::days(rng.gen_range(0..20));
            let p = crate::points::awards::Proposal {
                rule_code: code.to_string(),
                occurred_on: day,
                note: String::new(),
            };
            match crate::points::awards::propose(
                conn,
                &official.actor(&official_ctx),
                &household,
                &p,
                &IdemKey::issue().to_string(),
                today,
            ) {
                Ok(a) if a.status == "pending" => {
                    let _ = crate::points::awards::review(
                        conn,
                        &reviewer.actor(&reviewer_ctx),
                        &a.id,
                        &crate::points::awards::Decision::Approve,
                        today,
                    );
                }
                _ => {}
            }
        }
        if rng.gen_bool(0.5) && !stores.is_empty() {
            let (store_id, clerk) = &stores[rng.gen_range(0..stores.len())];
            let item = &items[rng.gen_range(0..items.len())];
            let clerk_ctx = AuditCtx {
                username: clerk.clone(),
                ..AuditCtx::console()
            };
            let _ = crate::redemptions::redeem(
                conn,
                &clerk_ctx,
                &crate::redemptions::RedeemRequest {
                    store_id,
                    card: card.as_str(),
                    lines: &[crate::redemptions::WantLine {
                        item_id: item.id.clone(),
                        quantity: 1,
                    }],
                    key: &IdemKey::issue().to_string(),
                },
                today,
            );
        }
        if n % 50 == 0 {
            progress("households", n, size.households);
        }
    }
    progress("households", size.households, size.households);
    let _ = first_village;
    Ok(logins)
}
