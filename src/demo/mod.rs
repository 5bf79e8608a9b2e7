//! A demo city for someone trying Aixin for the first time, or for the
//! benchmarks: areas, staff with known passwords, a rulebook, stores with
//! goods on the shelves, households, and months of awards, reviews,
//! redemptions, donations, moves and stocktakes. Deterministic for a seed.

pub mod city;
pub mod plant;

use rand::Rng;
use rand::rngs::StdRng;

use crate::config::PasswordCost;
use crate::crypto::DataKey;
use crate::db::DbConn;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "aixin-demo";

#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    pub households: usize,
    /// Months of history, ending with the current month.
    pub months: usize,
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
/// The demo's cities, in the order `--cities` takes them (Shandong's).
const CITIES: &[&str] = &[
    "济南市",
    "青岛市",
    "淄博市",
    "枣庄市",
    "东营市",
    "烟台市",
    "潍坊市",
    "济宁市",
    "泰安市",
    "威海市",
    "日照市",
    "临沂市",
    "德州市",
    "聊城市",
    "滨州市",
    "菏泽市",
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

/// Whether the database has no households yet (the demo fills only an empty one).
pub fn is_empty(conn: &mut DbConn) -> diesel::QueryResult<bool> {
    use crate::db::schema::households;
    use diesel::prelude::*;
    Ok(households::table.count().get_result::<i64>(conn)? == 0)
}

/// Fill an empty database with a demo city: `size.households` households
/// and `size.months` months of history ending today (see `city`).
/// `progress(step, done, total)`.
pub fn fill(
    conn: &mut DbConn,
    key: &DataKey,
    cost: PasswordCost,
    size: DemoSize,
    tz: chrono_tz::Tz,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<DemoLogins, String> {
    city::fill(conn, key, cost, size, tz, progress).map(|(logins, _)| logins)
}
