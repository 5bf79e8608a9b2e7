//! The city before its history: areas, staff, stores, goods, the rulebook
//! and donors.

use super::*;

pub(super) fn load_rules(conn: &mut DbConn) -> QueryResult<Vec<RuleInfo>> {
    let rows: Vec<(String, String, i64)> = rules::table
        .select((rules::id, rules::code, rules::points))
        .load(conn)?;
    // In the order of RULES, the deduction last.
    Ok(RULES
        .iter()
        .filter_map(|(code, ..)| {
            rows.iter().find(|r| r.1 == *code).map(|r| RuleInfo {
                id: r.0.clone(),
                code,
                points: r.2,
            })
        })
        .collect())
}

const TOWN_A: &[&str] = &[
    "龙", "凤", "柳", "桃", "杏", "梨", "枣", "松", "柏", "槐", "荷", "兰",
];
const TOWN_B: &[&str] = &[
    "山", "泉", "河", "湖", "林", "峪", "埠", "岭", "桥", "庄", "湾", "坡",
];
const VILLAGE_A: &[&str] = &[
    "东", "西", "南", "北", "前", "后", "王", "李", "张", "刘", "陈", "杨", "赵", "孙", "马", "朱",
    "胡", "郭", "何", "高",
];
const VILLAGE_B: &[&str] = &["庄", "屯", "家", "营", "寨", "店", "集", "铺", "堡", "洼"];
pub(super) const DONORS: &[(&str, &str)] = &[
    ("鲁粮集团", "enterprise"),
    ("市供销社", "public_unit"),
    ("慈善总会", "social_org"),
    ("张先生", "individual"),
    ("泉城银行", "enterprise"),
    ("市红十字会", "social_org"),
    ("重汽集团", "enterprise"),
    ("市教育局", "public_unit"),
    ("李女士", "individual"),
    ("爱心人士", "anonymous"),
    ("齐鲁制药", "enterprise"),
    ("市妇联", "public_unit"),
];

/// Areas, staff (all with the demo password), stores, goods, the rulebook
/// and donors, dated at the start of the demo's first month.
pub(super) fn setup(
    conn: &mut DbConn,
    city: &mut City,
    cost: PasswordCost,
    households: usize,
    cities: usize,
    at: NaiveDateTime,
) -> Result<Logins, String> {
    let cities = cities.max(1);
    let villages_wanted = (households / 80).max(4);
    let towns_wanted = (villages_wanted / 8).max(2).max(cities);
    let villages_wanted = villages_wanted.max(towns_wanted);
    let districts_wanted = (towns_wanted / cities / 15).clamp(1, DISTRICTS.len());
    let stores_wanted = (households * 110 / 80_000).clamp(2, towns_wanted);
    let hash = crate::auth::password::hash(crate::demo::DEMO_PASSWORD, cost);
    let mut area_rows = Vec::new();
    let mut user_rows = Vec::new();
    let mut new_user = |city: &mut City,
                        username: String,
                        role: &'static str,
                        area: Option<String>,
                        store: Option<String>| {
        let id = city.id_at(at);
        user_rows.push(NewUser {
            id: id.clone(),
            username: username.clone(),
            display_name: String::new(),
            password_hash: hash.clone(),
            role: role.into(),
            area_id: area,
            store_id: store,
            disabled: false,
            must_change_password: false,
            created_at: at,
            updated_at: at,
        });
        city.audit(
            at,
            None,
            "user.create",
            "user",
            &id,
            crate::audit::Detail::new("user_create")
                .arg("username", &username)
                .word("role", &format!("role.{role}"))
                .arg("place", "")
                .to_string(),
        );
        Staff { id, username }
    };
    let mut area =
        |city: &mut City, parent: Option<(&str, &str)>, level: &'static str, name: String| {
            let id = city.id_at(at);
            let path = match parent {
                None => format!("/{id}/"),
                Some((_, p)) => format!("{p}{id}/"),
            };
            city.audit(
                at,
                None,
                "area.create",
                "area",
                &id,
                crate::audit::Detail::new("area")
                    .word("level", &format!("level.{level}"))
                    .arg("name", &name)
                    .to_string(),
            );
            area_rows.push(NewArea {
                id: id.clone(),
                parent_id: parent.map(|(p, _)| p.to_string()),
                level: level.into(),
                name,
                path: path.clone(),
                created_at: at,
            });
            (id, path)
        };
    // Several cities: under one province (one city stands at the top).
    let province = (cities > 1).then(|| area(city, None, "province", "山东省".into()));
    let mut districts = Vec::new();
    for c in 0..cities {
        let name = match (CITIES[c % CITIES.len()], c / CITIES.len()) {
            (name, 0) => name.to_string(),
            (name, k) => format!("{name}{}", k + 1),
        };
        let parent = province
            .as_ref()
            .map(|(id, path)| (id.as_str(), path.as_str()));
        let (city_id, city_path) = area(city, parent, "city", name);
        for name in DISTRICTS.iter().take(districts_wanted) {
            districts.push(area(
                city,
                Some((&city_id, &city_path)),
                "district",
                name.to_string(),
            ));
        }
    }
    let mut towns = Vec::new();
    for t in 0..towns_wanted {
        let d = t % districts.len();
        let k = t / districts.len();
        let name = format!(
            "{}{}街道",
            TOWN_A[k % TOWN_A.len()],
            TOWN_B[(k / TOWN_A.len()) % TOWN_B.len()]
        );
        let (did, dpath) = districts[d].clone();
        towns.push(area(city, Some((&did, &dpath)), "town", name));
    }
    let mut village_areas = Vec::new();
    for v in 0..villages_wanted {
        let t = v % towns.len();
        let k = v / towns.len();
        let name = format!(
            "{}{}{}村",
            VILLAGE_A[k % VILLAGE_A.len()],
            VILLAGE_B[(k / VILLAGE_A.len()) % VILLAGE_B.len()],
            if k >= VILLAGE_A.len() * VILLAGE_B.len() {
                format!("{}", k)
            } else {
                String::new()
            }
        );
        let (tid, tpath) = towns[t].clone();
        village_areas.push((area(city, Some((&tid, &tpath)), "village", name).0, t));
    }
    // Staff: the named demo logins, an official for each village, a
    // reviewer for each town, a clerk for each store.
    let admin = new_user(city, "demo-admin".into(), "admin", None, None);
    let official = new_user(
        city,
        "demo-official".into(),
        "official",
        Some(towns[0].0.clone()),
        None,
    );
    let reviewer = new_user(
        city,
        "demo-reviewer".into(),
        "reviewer",
        Some(towns[0].0.clone()),
        None,
    );
    let auditor = new_user(city, "demo-auditor".into(), "auditor", None, None);
    if let Some((province_id, _)) = &province {
        new_user(
            city,
            "demo-auditor-province".into(),
            "auditor",
            Some(province_id.clone()),
            None,
        );
    }
    let mut reviewers = vec![reviewer.clone()];
    for (t, (tid, _)) in towns.iter().enumerate().skip(1) {
        reviewers.push(new_user(
            city,
            format!("demo-reviewer-{:03}", t + 1),
            "reviewer",
            Some(tid.clone()),
            None,
        ));
    }
    for (v, (vid, t)) in village_areas.iter().enumerate() {
        let official = new_user(
            city,
            format!("demo-official-{:04}", v + 1),
            "official",
            Some(vid.clone()),
            None,
        );
        city.villages.push(Village {
            id: vid.clone(),
            town: *t,
            official,
        });
    }
    let mut store_rows = Vec::new();
    let mut clerks = Vec::new();
    for s in 0..stores_wanted {
        let id = city.id_at(at);
        let name = format!("爱心超市{}号店", s + 1);
        city.audit(at, None, "store.create", "store", &id, name.clone());
        store_rows.push(NewStore {
            id: id.clone(),
            name: name.clone(),
            area_id: towns[s % towns.len()].0.clone(),
            address: "村委会院内".into(),
            opening_hours: "08:30-17:00".into(),
            active: true,
            created_at: at,
        });
        clerks.push((id, name));
    }
    for (s, (id, name)) in clerks.into_iter().enumerate() {
        let clerk = new_user(
            city,
            format!("demo-clerk{}", s + 1),
            "clerk",
            None,
            Some(id.clone()),
        );
        city.stores.push(StoreInfo { id, name, clerk });
    }
    let mut item_rows = Vec::new();
    for (n, (name, cat, unit, price)) in GOODS.iter().enumerate() {
        let id = city.id_at(at);
        let price: i64 = price.parse().expect("a price");
        city.audit(
            at,
            None,
            "item.create",
            "item",
            &id,
            format!("{name} {price}"),
        );
        item_rows.push(NewItem {
            id: id.clone(),
            name: name.to_string(),
            category: cat.to_string(),
            unit: unit.to_string(),
            points_price: price,
            barcode: Some(format!("69{:011}", 1000 + n)),
            active: true,
            created_at: at,
            updated_at: at,
        });
        city.items.push(ItemInfo {
            id,
            name: name.to_string(),
            unit: unit.to_string(),
            price,
        });
    }
    let mut donor_rows = Vec::new();
    for (name, kind) in DONORS {
        let id = city.id_at(at);
        city.audit(at, None, "donor.create", "donor", &id, name.to_string());
        donor_rows.push(NewDonor {
            id: id.clone(),
            name: name.to_string(),
            kind: kind.to_string(),
            contact_person: String::new(),
            phone: String::new(),
            address: String::new(),
            note: String::new(),
            created_at: at,
        });
        city.donors.push(id);
    }
    let categories = crate::points::categories(conn).map_err(|e| e.to_string())?;
    let mut rule_rows = Vec::new();
    for (code, cat, name, points, cap) in RULES {
        let id = city.id_at(at);
        let category_id = categories
            .iter()
            .find(|c| c.name == *cat)
            .map(|c| c.id.clone())
            .unwrap_or_else(|| categories[0].id.clone());
        city.audit(
            at,
            None,
            "rule.create",
            "rule",
            &id,
            format!("{code} {name} {points:+}"),
        );
        rule_rows.push(NewRule {
            id,
            code: code.to_string(),
            version: 1,
            name: name.to_string(),
            category_id,
            points: *points,
            cap_count: cap.map(|(n, _)| n),
            cap_points: None,
            cap_period: cap.map(|(_, p)| p.to_string()),
            valid_from: None,
            valid_to: None,
            active: true,
            superseded_by: None,
            created_at: at,
            created_by: "(console)".into(),
        });
    }
    let audit = std::mem::take(&mut city.out.audit);
    db::write_tx(conn, |c| {
        insert_all!(c, areas::table, area_rows, 6);
        insert_all!(c, stores::table, store_rows, 7);
        insert_all!(c, users::table, user_rows, 11);
        insert_all!(c, items::table, item_rows, 9);
        insert_all!(c, donors::table, donor_rows, 8);
        insert_all!(c, rules::table, rule_rows, 15);
        insert_all!(c, audit_log::table, audit, 10);
        Ok::<_, diesel::result::Error>(())
    })
    .map_err(|e: diesel::result::Error| e.to_string())?;
    Ok(Logins {
        named: DemoLogins {
            admin: admin.username.clone(),
            official: official.username,
            reviewer: reviewer.username,
            clerk: city.stores[0].clerk.username.clone(),
            auditor: auditor.username,
        },
        reviewers,
        admin,
    })
}
